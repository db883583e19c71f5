package metrics

import (
	"context"
	"errors"

	"github.com/openbatch/openbatch/internal/nodeproto"
)

// Coordinator wraps the server side of the node protocol so that the
// output-upload statistics agents send with each task report are counted
// here, on the server: operators scrape one endpoint, whether agents run
// in-process (dev) or on other hosts behind NATs. A report refused as stale
// is not counted (its task's outcome was decided elsewhere).
func Coordinator(c nodeproto.Coordinator, m *Metrics) nodeproto.Coordinator {
	if m == nil {
		return c
	}
	return &coordinator{Coordinator: c, m: m}
}

type coordinator struct {
	nodeproto.Coordinator
	m *Metrics
}

// Leave implements nodeproto.Leaver when the wrapped coordinator does.
func (c *coordinator) Leave(ctx context.Context, poolID, nodeID string) error {
	l, ok := c.Coordinator.(nodeproto.Leaver)
	if !ok {
		return errors.New("this server does not let nodes leave")
	}
	return l.Leave(ctx, poolID, nodeID)
}

// Complete implements nodeproto.Coordinator.
func (c *coordinator) Complete(ctx context.Context, rep nodeproto.Report) (*nodeproto.Completed, error) {
	out, err := c.Coordinator.Complete(ctx, rep)
	if err == nil && rep.Uploads != nil {
		c.m.ObserveUpload(*rep.Uploads)
	}
	return out, err
}

// ObserveUpload records one task run's output upload.
func (m *Metrics) ObserveUpload(u nodeproto.UploadStats) {
	if m == nil {
		return
	}
	m.uploadFiles.WithLabelValues("uploaded").Add(float64(max(u.Uploaded, 0)))
	m.uploadFiles.WithLabelValues("failed").Add(float64(max(u.Failed, 0)))
	m.uploadBytes.Add(float64(max(u.Bytes, 0)))
	m.uploadRetries.Add(float64(max(u.Retries, 0)))
	m.uploadTime.Observe(max(u.Duration.Seconds(), 0))
	if u.FailureCode != "" {
		m.uploadFails.WithLabelValues(labelValue(u.FailureCode)).Inc()
	}
}
