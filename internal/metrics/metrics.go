// Package metrics exposes openbatch's Prometheus metrics: API requests,
// task states and latencies, task outcomes, node states, output uploads
// and store latency. It owns one registry; the server mounts its Handler
// at /metrics. Counters are fed by decorators (Store, Coordinator) and by
// the HTTP layer's ObserveRequest, so the code that does the work knows
// nothing of Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "openbatch"

// Task latency buckets: from 5 ms (a dev node picking up work) to 6 hours.
var taskBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600}

// Metrics is openbatch's set of metrics and the registry that serves them.
// The zero value is not usable; call New. A nil *Metrics is valid and
// records nothing, so components can be wired without metrics in tests.
type Metrics struct {
	reg *prometheus.Registry

	apiRequests *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec

	transitions   *prometheus.CounterVec
	schedLatency  prometheus.Histogram
	endToEnd      prometheus.Histogram
	outcomes      *prometheus.CounterVec
	uploadFiles   *prometheus.CounterVec
	uploadBytes   prometheus.Counter
	uploadRetries prometheus.Counter
	uploadTime    prometheus.Histogram
	uploadFails   *prometheus.CounterVec
}

// New returns metrics registered in a fresh registry, together with the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_requests_total",
		Help: "Batch API requests by operation (route pattern, e.g. \"GET /jobs/{jobId}\") and HTTP status.",
	}, []string{"operation", "status"})
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "api_request_duration_seconds",
		Help:    "Batch API request latency by operation, from the first byte read to the last byte written.",
		Buckets: prometheus.DefBuckets,
	}, []string{"operation"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "store_operation_duration_seconds",
		Help:    "Latency of store (database) calls by method.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"operation"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "store_errors_total",
		Help: "Store calls that failed, by method (not found and already exists are not failures).",
	}, []string{"operation"})
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "task_state_transitions_total",
		Help: "Task state changes by previous and new state.",
	}, []string{"from", "to"})
	m.schedLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "task_scheduling_latency_seconds",
		Help:    "Time a task waited in the active state before a node took it (active to preparing or running).",
		Buckets: taskBuckets,
	})
	m.endToEnd = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "task_end_to_end_seconds",
		Help:    "Time from a task's creation to its completion, retries and queueing included.",
		Buckets: taskBuckets,
	})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "task_completions_total",
		Help: "Completed tasks by result (success, failure) and failureInfo code (\"\" on success).",
	}, []string{"result", "failure_code"})
	m.uploadFiles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "output_upload_files_total",
		Help: "Output files the agents uploaded (result=uploaded) or failed to upload (result=failed).",
	}, []string{"result"})
	m.uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "output_upload_bytes_total",
		Help: "Bytes of output files uploaded by the agents.",
	})
	m.uploadRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "output_upload_retries_total",
		Help: "Storage requests retried while uploading output files.",
	})
	m.uploadTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "output_upload_duration_seconds",
		Help:    "Wall time of a task's whole output upload.",
		Buckets: taskBuckets,
	})
	m.uploadFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "output_upload_failures_total",
		Help: "Tasks whose output upload failed, by failure code (FileUploadContainerNotFound, FileUploadAccessDenied, ...).",
	}, []string{"code"})
	m.reg.MustRegister(m.apiRequests, m.apiDuration, m.storeDuration, m.storeErrors, m.transitions,
		m.schedLatency, m.endToEnd, m.outcomes, m.uploadFiles, m.uploadBytes, m.uploadRetries, m.uploadTime,
		m.uploadFails, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one API request. operation is the route pattern
// that served it ("" when no route matched, recorded as "unmatched"), never
// the raw path, so that label values stay few.
func (m *Metrics) ObserveRequest(operation string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if operation == "" {
		operation = "unmatched"
	}
	m.apiRequests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.apiDuration.WithLabelValues(operation).Observe(d.Seconds())
}
