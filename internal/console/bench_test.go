package console_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/store"
)

// BenchmarkJobPage100k renders a job page of a job holding 100,000 tasks
// (all active, 1,000 of them running): the first page, a page deep in the
// job, and the running tasks only. Each is one store page (keyset paging)
// plus the job's task counts, so its cost does not grow with the job.
// Results are in BENCHMARKS.md.
//
//	go test -run '^$' -bench JobPage100k -benchtime 20x ./internal/console/
func BenchmarkJobPage100k(b *testing.B) {
	if testing.Short() {
		b.Skip("creates 100,000 tasks")
	}
	e := newEnv(b, open)
	ctx := context.Background()
	const total, chunk = 100_000, 100
	for i := 0; i < total; i += chunk {
		tasks := make([]*api.Task, chunk)
		for k := range tasks {
			tasks[k] = &api.Task{ID: fmt.Sprintf("t%06d", i+k), CommandLine: "true"}
		}
		if _, err := e.svc.AddTasks(ctx, "j1", tasks, nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < total; i += 100 {
		id := fmt.Sprintf("t%06d", i)
		if _, err := e.st.UpdateTask(ctx, "j1", id, func(r *store.TaskRow) error {
			r.Task.State = api.TaskRunning
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	// A token deep in the job: follow "next" from a page of 500 a few times.
	deep := "/console/jobs/j1?size=500"
	for range 100 {
		r := e.get(deep).body
		m := regexp.MustCompile(`href="(/console/jobs/j1\?[^"]*)" rel="next"`).FindStringSubmatch(r)
		if m == nil {
			b.Fatal("no next page")
		}
		deep = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	for _, bc := range []struct{ name, path string }{
		{"first page of 100", "/console/jobs/j1"},
		{"page of 500 after 50,000 tasks", deep},
		{"running only", "/console/jobs/j1?state=running"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if body := e.get(bc.path).body; !strings.Contains(body, `data-count="total">100000<`) {
					b.Fatal("page without the job's counts")
				}
			}
		})
	}
}
