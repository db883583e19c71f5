package httpapi

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /pools", s.addPool)
	mux.HandleFunc("GET /pools", s.listPools)
	mux.HandleFunc("GET /pools/{poolId}", s.getPool)
	mux.HandleFunc("HEAD /pools/{poolId}", s.poolExists)
	mux.HandleFunc("PATCH /pools/{poolId}", s.patchPool)
	mux.HandleFunc("DELETE /pools/{poolId}", s.deletePool)
	mux.HandleFunc("POST /pools/{poolId}/resize", s.resizePool)
	mux.HandleFunc("POST /pools/{poolId}/stopresize", s.stopResizePool)
	mux.HandleFunc("POST /pools/{poolId}/enableautoscale", s.enableAutoScale)
	mux.HandleFunc("POST /pools/{poolId}/disableautoscale", s.disableAutoScale)
	mux.HandleFunc("POST /pools/{poolId}/evaluateautoscale", s.evaluateAutoScale)
	mux.HandleFunc("POST /pools/{poolId}/updateproperties", s.updatePoolProperties)
	mux.HandleFunc("GET /pools/{poolId}/nodes", s.listNodes)
	mux.HandleFunc("GET /pools/{poolId}/nodes/{nodeId}", s.getNode)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/disablescheduling", s.disableScheduling)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/enablescheduling", s.enableScheduling)
	mux.HandleFunc("POST /pools/{poolId}/removenodes", s.removeNodes)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/reboot", s.rebootNode)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/reimage", s.reimageNode)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/deallocate", s.deallocateNode)
	mux.HandleFunc("POST /pools/{poolId}/nodes/{nodeId}/start", s.startNode)
	mux.HandleFunc("GET /nodecounts", s.nodeCounts)
	mux.HandleFunc("GET /supportedimages", s.supportedImages)

	mux.HandleFunc("POST /jobs", s.addJob)
	mux.HandleFunc("GET /jobs", s.listJobs)
	mux.HandleFunc("GET /jobs/{jobId}", s.getJob)
	mux.HandleFunc("PATCH /jobs/{jobId}", s.patchJob)
	mux.HandleFunc("PUT /jobs/{jobId}", s.updateJob)
	mux.HandleFunc("DELETE /jobs/{jobId}", s.deleteJob)
	mux.HandleFunc("POST /jobs/{jobId}/disable", s.disableJob)
	mux.HandleFunc("POST /jobs/{jobId}/enable", s.enableJob)
	mux.HandleFunc("POST /jobs/{jobId}/terminate", s.terminateJob)
	mux.HandleFunc("GET /jobs/{jobId}/taskcounts", s.taskCounts)
	mux.HandleFunc("GET /jobs/{jobId}/jobpreparationandreleasetaskstatus", s.prepReleaseStatus)

	s.jobScheduleRoutes(mux)

	mux.HandleFunc("POST /jobs/{jobId}/tasks", s.addTask)
	mux.HandleFunc("POST /jobs/{jobId}/addtaskcollection", s.addTaskCollection)
	mux.HandleFunc("GET /jobs/{jobId}/tasks", s.listTasks)
	mux.HandleFunc("GET /jobs/{jobId}/tasks/{taskId}", s.getTask)
	mux.HandleFunc("PUT /jobs/{jobId}/tasks/{taskId}", s.updateTask)
	mux.HandleFunc("DELETE /jobs/{jobId}/tasks/{taskId}", s.deleteTask)
	mux.HandleFunc("POST /jobs/{jobId}/tasks/{taskId}/terminate", s.terminateTask)
	mux.HandleFunc("POST /jobs/{jobId}/tasks/{taskId}/reactivate", s.reactivateTask)
	mux.HandleFunc("GET /jobs/{jobId}/tasks/{taskId}/subtasksinfo", s.subtasks)

	if s.Files != nil {
		mux.HandleFunc("GET /jobs/{jobId}/tasks/{taskId}/files", s.listTaskFiles)
		mux.HandleFunc("GET /jobs/{jobId}/tasks/{taskId}/files/{path...}", s.getTaskFile)
		mux.HandleFunc("HEAD /jobs/{jobId}/tasks/{taskId}/files/{path...}", s.getTaskFile)
		mux.HandleFunc("DELETE /jobs/{jobId}/tasks/{taskId}/files/{path...}", s.deleteTaskFile)
		mux.HandleFunc("GET /pools/{poolId}/nodes/{nodeId}/files", s.listNodeFiles)
		mux.HandleFunc("GET /pools/{poolId}/nodes/{nodeId}/files/{path...}", s.getNodeFile)
		mux.HandleFunc("HEAD /pools/{poolId}/nodes/{nodeId}/files/{path...}", s.getNodeFile)
		mux.HandleFunc("DELETE /pools/{poolId}/nodes/{nodeId}/files/{path...}", s.deleteNodeFile)
	}
}

// created writes a 201 with an empty body; the caller has set ETag and
// Last-Modified.
func created(w http.ResponseWriter, url string) {
	w.Header().Set("Location", url)
	w.Header().Set("DataServiceId", url)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// input decodes a request's JSON body into body (unless body is nil) and
// reads its If-* headers. On failure it writes the error and returns false.
func input(w http.ResponseWriter, r *http.Request, body any) (service.Conditions, bool) {
	if body != nil {
		if err := decodeBody(r, body, true); err != nil {
			writeError(w, r, err)
			return service.Conditions{}, false
		}
	}
	cond, err := conditions(r)
	if err != nil {
		writeError(w, r, err)
		return cond, false
	}
	return cond, true
}

// reply writes err, or else an empty response with status and (when not
// empty) DataServiceId.
func reply(w http.ResponseWriter, r *http.Request, err error, status int, dataServiceID string) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	accepted(w, status, dataServiceID)
}

// accepted writes an empty response with the given status and DataServiceId.
func accepted(w http.ResponseWriter, status int, url string) {
	if url != "" {
		w.Header().Set("DataServiceId", url)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// ---- pools ----

func (s *Server) addPool(w http.ResponseWriter, r *http.Request) {
	var p api.Pool
	// Pools carry many Azure VM settings openbatch stores as given, so unknown
	// properties are accepted here (documented in docs/compatibility.md).
	if err := decodeBody(r, &p, false); err != nil {
		writeError(w, r, err)
		return
	}
	if err := removedPoolProperty(r, &p); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Svc.AddPool(r.Context(), &p); err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, p.ETag, p.LastModified, "")
	created(w, poolURL(r, p.ID))
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) {
	pg, sel, err := listQuery(r, kindPool)
	if err != nil {
		writeError(w, r, err)
		return
	}
	pools, next, err := s.Svc.ListPools(r.Context(), pg)
	if err != nil {
		writeError(w, r, pageErr(err))
		return
	}
	for _, p := range pools {
		decoratePool(r, p)
	}
	writeList(w, r, "pools", pools, next, sel)
}

func (s *Server) getPool(w http.ResponseWriter, r *http.Request) {
	cond, err := conditions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	sel, err := selectSet(r, kindPool)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.Svc.GetPool(r.Context(), r.PathValue("poolId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !conditionsMet(w, r, cond, p.ETag, p.LastModified) {
		return
	}
	decoratePool(r, p)
	writeEntity(w, r, p, p.ETag, p.LastModified, "pools", sel)
}

func (s *Server) poolExists(w http.ResponseWriter, r *http.Request) {
	p, err := s.Svc.GetPool(r.Context(), r.PathValue("poolId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, p.ETag, p.LastModified, "")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) patchPool(w http.ResponseWriter, r *http.Request) {
	var body api.PoolPatch
	if cond, ok := input(w, r, &body); ok {
		pool, err := s.Svc.PatchPool(r.Context(), r.PathValue("poolId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, pool.ETag, pool.LastModified, poolURL(r, pool.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) deletePool(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		reply(w, r, s.Svc.DeletePool(r.Context(), r.PathValue("poolId"), cond), http.StatusAccepted, "")
	}
}

func (s *Server) resizePool(w http.ResponseWriter, r *http.Request) {
	var body api.PoolResize
	if cond, ok := input(w, r, &body); ok {
		err := s.Svc.ResizePool(r.Context(), r.PathValue("poolId"), &body, cond)
		reply(w, r, err, http.StatusAccepted, poolURL(r, r.PathValue("poolId")))
	}
}

func (s *Server) stopResizePool(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		err := s.Svc.StopResizePool(r.Context(), r.PathValue("poolId"), cond)
		reply(w, r, err, http.StatusAccepted, poolURL(r, r.PathValue("poolId")))
	}
}

func (s *Server) enableAutoScale(w http.ResponseWriter, r *http.Request) {
	var body api.PoolEnableAutoScale
	if cond, ok := input(w, r, &body); ok {
		pool, err := s.Svc.EnableAutoScale(r.Context(), r.PathValue("poolId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, pool.ETag, pool.LastModified, poolURL(r, pool.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) disableAutoScale(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		pool, err := s.Svc.DisableAutoScale(r.Context(), r.PathValue("poolId"), cond)
		if err == nil {
			setEntityHeaders(w, pool.ETag, pool.LastModified, poolURL(r, pool.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

// evaluateAutoScale answers 200 with the AutoScaleRun; a formula that does
// not evaluate is reported in the run's error, not as a failed request.
func (s *Server) evaluateAutoScale(w http.ResponseWriter, r *http.Request) {
	var body api.PoolEvaluateAutoScale
	if _, ok := input(w, r, &body); !ok {
		return
	}
	run, pool, err := s.Svc.EvaluateAutoScale(r.Context(), r.PathValue("poolId"), body.AutoScaleFormula)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("DataServiceId", poolURL(r, pool.ID))
	writeEntity(w, r, run, pool.ETag, pool.LastModified, "Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun", nil)
}

func (s *Server) updatePoolProperties(w http.ResponseWriter, r *http.Request) {
	var body api.PoolUpdateProperties
	if cond, ok := input(w, r, &body); ok {
		err := s.Svc.UpdatePoolProperties(r.Context(), r.PathValue("poolId"), &body, cond)
		reply(w, r, err, http.StatusNoContent, poolURL(r, r.PathValue("poolId")))
	}
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	pg, sel, err := listQuery(r, kindNode)
	if err != nil {
		writeError(w, r, err)
		return
	}
	nodes, err := s.Svc.ListNodes(r.Context(), r.PathValue("poolId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A pool's nodes are few and come sorted by ID, so paging is done here:
	// the token is the last ID of the previous page.
	after := ""
	if pg.Token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(pg.Token)
		if derr != nil || len(b) == 0 {
			writeError(w, r, pageErr(store.ErrBadToken))
			return
		}
		after = string(b)
	}
	views, next := []*api.ComputeNode{}, ""
	for _, n := range nodes {
		if after != "" && n.Node.ID <= after {
			continue
		}
		v := decorateNode(r, n)
		if !pg.Filter.Eval(filterprops.Accessor(v)) {
			continue
		}
		if len(views) == pg.Max {
			next = base64.RawURLEncoding.EncodeToString([]byte(views[len(views)-1].ID))
			break
		}
		views = append(views, v)
	}
	writeList(w, r, "nodes", views, next, sel)
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	sel, err := selectSet(r, kindNode)
	if err != nil {
		writeError(w, r, err)
		return
	}
	n, err := s.Svc.GetNode(r.Context(), r.PathValue("poolId"), r.PathValue("nodeId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeEntity(w, r, decorateNode(r, n), "", nil, "nodes", sel)
}

// ---- jobs ----

func (s *Server) addJob(w http.ResponseWriter, r *http.Request) {
	var j api.Job
	if err := decodeBody(r, &j, true); err != nil {
		writeError(w, r, err)
		return
	}
	if j.Pending != nil {
		// Stored bookkeeping shares the job's type; to a client it is a
		// property the API does not define.
		writeError(w, r, invalidBody("The request body contains a property the Batch API does not define: openbatchPending. Check its spelling and case."))
		return
	}
	if err := s.Svc.AddJob(r.Context(), &j); err != nil {
		writeError(w, r, err)
		return
	}
	setEntityHeaders(w, j.ETag, j.LastModified, "")
	created(w, jobURL(r, j.ID))
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	if err := checkExpand(r); err != nil {
		writeError(w, r, err)
		return
	}
	pg, sel, err := listQuery(r, kindJob)
	if err != nil {
		writeError(w, r, err)
		return
	}
	jobs, next, err := s.Svc.ListJobs(r.Context(), pg)
	if err != nil {
		writeError(w, r, pageErr(err))
		return
	}
	for _, j := range jobs {
		decorateJob(r, j)
	}
	writeList(w, r, "jobs", jobs, next, sel)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	cond, err := conditions(r)
	if err == nil {
		err = checkExpand(r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	sel, err := selectSet(r, kindJob)
	if err != nil {
		writeError(w, r, err)
		return
	}
	j, err := s.Svc.GetJob(r.Context(), r.PathValue("jobId"), service.Conditions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !conditionsMet(w, r, cond, j.ETag, j.LastModified) {
		return
	}
	decorateJob(r, j)
	writeEntity(w, r, j, j.ETag, j.LastModified, "jobs", sel)
}

func (s *Server) patchJob(w http.ResponseWriter, r *http.Request) {
	var body api.JobPatch
	if cond, ok := input(w, r, &body); ok {
		j, err := s.Svc.PatchJob(r.Context(), r.PathValue("jobId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, j.ETag, j.LastModified, jobURL(r, j.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) updateJob(w http.ResponseWriter, r *http.Request) {
	var body api.JobUpdate
	if cond, ok := input(w, r, &body); ok {
		j, err := s.Svc.UpdateJob(r.Context(), r.PathValue("jobId"), &body, cond)
		if err == nil {
			setEntityHeaders(w, j.ETag, j.LastModified, jobURL(r, j.ID))
		}
		reply(w, r, err, http.StatusOK, "")
	}
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	if _, err := forceParam(r); err != nil {
		writeError(w, r, err)
		return
	}
	if cond, ok := input(w, r, nil); ok {
		reply(w, r, s.Svc.DeleteJob(r.Context(), r.PathValue("jobId"), cond), http.StatusAccepted, "")
	}
}

// optionalBody decodes a body that may be absent or empty.
func optionalBody(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return tooLarge()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return decodeJSON(data, v, true)
}

// forceParam reads the force query parameter of job delete and terminate
// (api-version 2024-07-01.20.0 and later). openbatch never waits for nodes
// to acknowledge a job's deletion or termination, so force=true changes
// nothing; it is accepted, and a value that is not a boolean is refused as
// Azure does. See docs/compatibility.md, "Job delete and terminate: force".
func forceParam(r *http.Request) (bool, error) {
	v, ok := queryGet(r, "force")
	if !ok {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badQuery("force", v, "The value must be true or false.")
}

func (s *Server) terminateJob(w http.ResponseWriter, r *http.Request) {
	if _, err := forceParam(r); err != nil {
		writeError(w, r, err)
		return
	}
	var body api.JobTerminate
	if err := optionalBody(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if cond, ok := input(w, r, nil); ok {
		err := s.Svc.TerminateJob(r.Context(), r.PathValue("jobId"), body.TerminateReason, cond)
		reply(w, r, err, http.StatusAccepted, jobURL(r, r.PathValue("jobId")))
	}
}

func (s *Server) disableJob(w http.ResponseWriter, r *http.Request) {
	var body api.JobDisable
	if cond, ok := input(w, r, &body); ok {
		err := s.Svc.DisableJob(r.Context(), r.PathValue("jobId"), body.DisableTasks, cond)
		reply(w, r, err, http.StatusAccepted, jobURL(r, r.PathValue("jobId")))
	}
}

func (s *Server) enableJob(w http.ResponseWriter, r *http.Request) {
	if cond, ok := input(w, r, nil); ok {
		err := s.Svc.EnableJob(r.Context(), r.PathValue("jobId"), cond)
		reply(w, r, err, http.StatusAccepted, jobURL(r, r.PathValue("jobId")))
	}
}

func (s *Server) taskCounts(w http.ResponseWriter, r *http.Request) {
	c, err := s.Svc.TaskCounts(r.Context(), r.PathValue("jobId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, _ := entityJSON(c, nil, metadataURL(r, "taskcounts/@Element"))
	writeBody(w, http.StatusOK, body)
}

func (s *Server) prepReleaseStatus(w http.ResponseWriter, r *http.Request) {
	v, err := s.Svc.PrepReleaseStatus(r.Context(), r.PathValue("jobId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	for i := range v {
		v[i].NodeURL = nodeURL(r, v[i].PoolID, v[i].NodeID)
	}
	writeList(w, r, "jobpreparationandreleasetaskstatuslist", v, "", nil)
}

func (s *Server) disableScheduling(w http.ResponseWriter, r *http.Request) {
	var body api.NodeDisableScheduling
	if err := optionalBody(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Svc.DisableScheduling(r.Context(), r.PathValue("poolId"), r.PathValue("nodeId"), body.NodeDisableSchedulingOption); err != nil {
		writeError(w, r, err)
		return
	}
	accepted(w, http.StatusOK, nodeURL(r, r.PathValue("poolId"), r.PathValue("nodeId")))
}

func (s *Server) enableScheduling(w http.ResponseWriter, r *http.Request) {
	err := s.Svc.EnableScheduling(r.Context(), r.PathValue("poolId"), r.PathValue("nodeId"))
	reply(w, r, err, http.StatusOK, nodeURL(r, r.PathValue("poolId"), r.PathValue("nodeId")))
}

func (s *Server) removeNodes(w http.ResponseWriter, r *http.Request) {
	var body api.NodeRemove
	if _, ok := input(w, r, &body); ok {
		err := s.Svc.RemoveNodes(r.Context(), r.PathValue("poolId"), &body)
		reply(w, r, err, http.StatusAccepted, poolURL(r, r.PathValue("poolId")))
	}
}

func (s *Server) nodeCounts(w http.ResponseWriter, r *http.Request) {
	counts, err := s.Svc.NodeCounts(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if counts == nil {
		counts = []api.PoolNodeCounts{}
	}
	writeList(w, r, "poolnodecounts", counts, "", nil)
}

func (s *Server) supportedImages(w http.ResponseWriter, r *http.Request) {
	writeList(w, r, "supportedimages", service.SupportedImages(), "", nil)
}
