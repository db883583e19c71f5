package httpapi

import (
	"net/http"
	"net/url"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

func esc(s string) string { return url.PathEscape(s) }

func poolURL(r *http.Request, id string) string { return info(r).base + "/pools/" + esc(id) }
func jobURL(r *http.Request, id string) string  { return info(r).base + "/jobs/" + esc(id) }
func taskURL(r *http.Request, jobID, taskID string) string {
	return jobURL(r, jobID) + "/tasks/" + esc(taskID)
}
func nodeURL(r *http.Request, poolID, nodeID string) string {
	return poolURL(r, poolID) + "/nodes/" + esc(nodeID)
}

// decorateTask fills the URLs of a task, which depend on the endpoint the
// client used and so are not stored.
func decorateTask(r *http.Request, jobID string, t *api.Task) {
	t.URL = taskURL(r, jobID, t.ID)
	if ni := t.NodeInfo; ni != nil {
		ni.NodeURL = nodeURL(r, ni.PoolID, ni.NodeID)
		if ni.TaskRootDirectory != "" {
			ni.TaskRootDirectoryURL = ni.NodeURL + "/files/" + ni.TaskRootDirectory
		}
	}
	if !wantStats(r) {
		t.Stats = nil
	} else if t.Stats != nil {
		t.Stats.URL = t.URL
	}
}

func wantStats(r *http.Request) bool {
	v, _ := queryGet(r, "$expand")
	return v == "stats"
}

func decorateJob(r *http.Request, j *api.Job) {
	j.URL = jobURL(r, j.ID)
	if !wantStats(r) {
		j.Stats = nil
	}
}

func decoratePool(r *http.Request, p *api.Pool) {
	p.URL = poolURL(r, p.ID)
	if !wantStats(r) {
		p.Stats = nil
	}
}

// decorateNode fills the URLs of a node and of its recent tasks.
func decorateNode(r *http.Request, v service.NodeView) *api.ComputeNode {
	n := v.Node
	n.URL = nodeURL(r, v.PoolID, n.ID)
	for i := range n.RecentTasks {
		n.RecentTasks[i].TaskURL = taskURL(r, n.RecentTasks[i].JobID, n.RecentTasks[i].TaskID)
	}
	return n
}
