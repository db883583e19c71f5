package httpapi

import (
	"net/http"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

func (s *Server) jobScheduleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /jobschedules", s.addJobSchedule)
	mux.HandleFunc("GET /jobschedules", s.listJobSchedules)
	mux.HandleFunc("GET /jobschedules/{scheduleId}", s.getJobSchedule)
	mux.HandleFunc("HEAD /jobschedules/{scheduleId}", s.jobScheduleExists)
	mux.HandleFunc("PATCH /jobschedules/{scheduleId}", s.patchJobSchedule)
	mux.HandleFunc("PUT /jobschedules/{scheduleId}", s.updateJobSchedule)
	mux.HandleFunc("DELETE /jobschedules/{scheduleId}", s.deleteJobSchedule)
	mux.HandleFunc("POST /jobschedules/{scheduleId}/disable", s.disableJobSchedule)
	mux.HandleFunc("POST /jobschedules/{scheduleId}/enable", s.enableJobSchedule)
	mux.HandleFunc("POST /jobschedules/{scheduleId}/terminate", s.terminateJobSchedule)
	mux.HandleFunc("GET /jobschedules/{scheduleId}/jobs", s.listScheduleJobs)
}

func jobScheduleURL(r *http.Request, id string) string {
	return info(r).base + "/jobschedules/" + esc(id)
}

func decorateJobSchedule(r *http.Request, js *api.JobSchedule) {
	js.URL = jobScheduleURL(r, js.ID)
	if !wantStats(r) {
		js.Stats = nil
	}
	if ei := js.ExecutionInfo; ei != nil && ei.RecentJob != nil {
		ei.RecentJob.URL = jobURL(r, ei.RecentJob.ID)
	}
}

func (s *Server) addJobSchedule(w http.ResponseWriter, r *http.Request) {
	var js api.JobSchedule
	if err := decodeBody(r, &js, true); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Svc.AddJobSchedule(r.Context(), &js); err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, js.ETag, js.LastModified, "")
	created(w, jobScheduleURL(r, js.ID))
}

func (s *Server) listJobSchedules(w http.ResponseWriter, r *http.Request) {
	if err := checkExpand(r); err != nil {
		writeError(w, r, err)
		return
	}
	pg, sel, err := listQuery(r, kindJobSchedule)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, next, err := s.Svc.ListJobSchedules(r.Context(), pg)
	if err != nil {
		writeError(w, r, pageErr(err))
		return
	}
	for _, js := range list {
		decorateJobSchedule(r, js)
	}
	writeList(w, r, "jobschedules", list, next, sel)
}

func (s *Server) getJobSchedule(w http.ResponseWriter, r *http.Request) {
	cond, err := conditions(r)
	if err == nil {
		err = checkExpand(r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	sel, err := selectSet(r, kindJobSchedule)
	if err != nil {
		writeError(w, r, err)
		return
	}
	js, err := s.Svc.GetJobSchedule(r.Context(), r.PathValue("scheduleId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !conditionsMet(w, r, cond, js.ETag, js.LastModified) {
		return
	}
	decorateJobSchedule(r, js)
	writeEntity(w, r, js, js.ETag, js.LastModified, "jobschedules", sel)
}

func (s *Server) jobScheduleExists(w http.ResponseWriter, r *http.Request) {
	js, err := s.Svc.GetJobSchedule(r.Context(), r.PathValue("scheduleId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, js.ETag, js.LastModified, "")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) patchJobSchedule(w http.ResponseWriter, r *http.Request) {
	var body api.JobSchedulePatch
	if cond, ok := input(w, r, &body); ok {
		js, err := s.Svc.PatchJobSchedule(r.Context(), r.PathValue("scheduleId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, js.ETag, js.LastModified, jobScheduleURL(r, js.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) updateJobSchedule(w http.ResponseWriter, r *http.Request) {
	var body api.JobScheduleUpdate
	if cond, ok := input(w, r, &body); ok {
		js, err := s.Svc.UpdateJobSchedule(r.Context(), r.PathValue("scheduleId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, js.ETag, js.LastModified, jobScheduleURL(r, js.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) deleteJobSchedule(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		reply(w, r, s.Svc.DeleteJobSchedule(r.Context(), r.PathValue("scheduleId"), cond), http.StatusAccepted, "")
	}
}

func (s *Server) disableJobSchedule(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		id := r.PathValue("scheduleId")
		reply(w, r, s.Svc.DisableJobSchedule(r.Context(), id, cond), http.StatusNoContent, jobScheduleURL(r, id))
	}
}

func (s *Server) enableJobSchedule(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		id := r.PathValue("scheduleId")
		reply(w, r, s.Svc.EnableJobSchedule(r.Context(), id, cond), http.StatusNoContent, jobScheduleURL(r, id))
	}
}

func (s *Server) terminateJobSchedule(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		id := r.PathValue("scheduleId")
		reply(w, r, s.Svc.TerminateJobSchedule(r.Context(), id, cond), http.StatusAccepted, jobScheduleURL(r, id))
	}
}

func (s *Server) listScheduleJobs(w http.ResponseWriter, r *http.Request) {
	if err := checkExpand(r); err != nil {
		writeError(w, r, err)
		return
	}
	pg, sel, err := listQuery(r, kindJob)
	if err != nil {
		writeError(w, r, err)
		return
	}
	jobs, next, err := s.Svc.ListScheduleJobs(r.Context(), r.PathValue("scheduleId"), pg)
	if err != nil {
		writeError(w, r, pageErr(err))
		return
	}
	for _, j := range jobs {
		decorateJob(r, j)
	}
	writeList(w, r, "jobs", jobs, next, sel)
}
