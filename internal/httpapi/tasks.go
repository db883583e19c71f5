package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

func pageErr(err error) error {
	if errors.Is(err, store.ErrBadToken) {
		return badQuery("$skiptoken", "", "The continuation token is not one this server issued; restart the listing without it.")
	}
	return err
}

func (s *Server) addTask(w http.ResponseWriter, r *http.Request) {
	var t api.Task
	if err := decodeBody(r, &t, true); err != nil {
		writeError(w, r, err)
		return
	}
	jobID := r.PathValue("jobId")
	if err := s.Svc.AddTask(r.Context(), jobID, &t); err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, t.ETag, t.LastModified, "")
	created(w, taskURL(r, jobID, t.ID))
}

func (s *Server) addTaskCollection(w http.ResponseWriter, r *http.Request) {
	var body api.TaskAddCollection
	if err := decodeBody(r, &body, true); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Value == nil {
		writeError(w, r, service.AsError(api.Missing("value")))
		return
	}
	if len(body.Value) > service.MaxTasksPerCollection {
		writeError(w, r, &service.Error{Code: api.CodeRequestBodyTooLarge,
			Message: "The request contains more than 100 tasks; split it into calls of at most 100 tasks."})
		return
	}
	jobID := r.PathValue("jobId")
	tasks := make([]*api.Task, len(body.Value))
	decodeErrs := make([]error, len(body.Value))
	for i, raw := range body.Value {
		tasks[i] = new(api.Task)
		decodeErrs[i] = decodeJSON(raw, tasks[i], true)
		if decodeErrs[i] != nil && tasks[i].ID == "" {
			// Best effort to name the task in its result.
			var idOnly struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &idOnly)
			tasks[i].ID = idOnly.ID
		}
	}
	outcomes, err := s.Svc.AddTasks(r.Context(), jobID, tasks, decodeErrs)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res := api.TaskAddCollectionResult{Value: make([]api.TaskAddResult, len(outcomes))}
	for i, o := range outcomes {
		tr := api.TaskAddResult{TaskID: o.Task.ID}
		if o.Err == nil {
			tr.Status = api.TaskAddSuccess
			tr.ETag, tr.LastModified, tr.Location = o.Task.ETag, o.Task.LastModified, taskURL(r, jobID, o.Task.ID)
		} else {
			var se *service.Error
			if !errors.As(service.AsError(o.Err), &se) {
				se = &service.Error{Code: api.CodeInternalError, Message: "Server encountered an internal error."}
			}
			tr.Status = api.TaskAddClientError
			if statusOf(se.Code) >= 500 {
				tr.Status = api.TaskAddServerError
			}
			tr.Error = &api.BatchError{Code: se.Code, Message: &api.ErrorMessage{Lang: "en-US", Value: se.Message}, Values: se.Values}
		}
		res.Value[i] = tr
	}
	b, err := entityJSON(res, nil, metadataURL(r, "taskaddresult"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, b)
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	if err := checkExpand(r); err != nil {
		writeError(w, r, err)
		return
	}
	pg, sel, err := listQuery(r, kindTask)
	if err != nil {
		writeError(w, r, err)
		return
	}
	jobID := r.PathValue("jobId")
	tasks, next, err := s.Svc.ListTasks(r.Context(), jobID, pg)
	if err != nil {
		writeError(w, r, pageErr(err))
		return
	}
	for _, t := range tasks {
		decorateTask(r, jobID, t)
	}
	writeList(w, r, "tasks", tasks, next, sel)
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	cond, err := conditions(r)
	if err == nil {
		err = checkExpand(r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	sel, err := selectSet(r, kindTask)
	if err != nil {
		writeError(w, r, err)
		return
	}
	jobID := r.PathValue("jobId")
	t, err := s.Svc.GetTask(r.Context(), jobID, r.PathValue("taskId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !conditionsMet(w, r, cond, t.ETag, t.LastModified) {
		return
	}
	decorateTask(r, jobID, t)
	writeEntity(w, r, t, t.ETag, t.LastModified, "tasks", sel)
}

func (s *Server) updateTask(w http.ResponseWriter, r *http.Request) {
	var body api.TaskUpdate
	if cond, ok := input(w, r, &body); ok {
		jobID := r.PathValue("jobId")
		t, err := s.Svc.UpdateTask(r.Context(), jobID, r.PathValue("taskId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, t.ETag, t.LastModified, taskURL(r, jobID, t.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) taskOp(w http.ResponseWriter, r *http.Request, status int, op func(*http.Request, string, string, service.Conditions) error) {
	if cond, ok := input(w, r, nil); ok {
		jobID, taskID := r.PathValue("jobId"), r.PathValue("taskId")
		url := ""
		if status == http.StatusNoContent {
			url = taskURL(r, jobID, taskID)
		}
		reply(w, r, op(r, jobID, taskID, cond), status, url)
	}
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) {
	s.taskOp(w, r, http.StatusOK, func(r *http.Request, j, t string, c service.Conditions) error {
		return s.Svc.DeleteTask(r.Context(), j, t, c)
	})
}

func (s *Server) terminateTask(w http.ResponseWriter, r *http.Request) {
	s.taskOp(w, r, http.StatusNoContent, func(r *http.Request, j, t string, c service.Conditions) error {
		return s.Svc.TerminateTask(r.Context(), j, t, c)
	})
}

func (s *Server) reactivateTask(w http.ResponseWriter, r *http.Request) {
	s.taskOp(w, r, http.StatusNoContent, func(r *http.Request, j, t string, c service.Conditions) error {
		return s.Svc.ReactivateTask(r.Context(), j, t, c)
	})
}

func (s *Server) subtasks(w http.ResponseWriter, r *http.Request) {
	v, err := s.Svc.Subtasks(r.Context(), r.PathValue("jobId"), r.PathValue("taskId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeList(w, r, "subtaskinformations", v, "", nil)
}
