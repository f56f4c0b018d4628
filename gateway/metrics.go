package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the node's Prometheus metrics, on a registry of their own
// (so that several nodes can live in one test process).
type Metrics struct {
	Registry          *prometheus.Registry
	Received          *prometheus.CounterVec // by outcome
	ReceivedBytes     prometheus.Counter
	Associations      *prometheus.CounterVec // accepted, rejected
	SeriesCompleted   *prometheus.CounterVec // by reason: timeout, count
	SeriesOpen        prometheus.Gauge
	Jobs              *prometheus.CounterVec // by outcome
	JobSeconds        prometheus.Histogram
	Dispatched        *prometheus.CounterVec // by destination, outcome
	OutboxPending     *prometheus.GaugeVec   // by destination
	SpoolFreeBytes    prometheus.Gauge
	StoreLatencySecs  prometheus.Histogram
	DuplicateInstance *prometheus.CounterVec // by disposition
	Durable           *prometheus.CounterVec // by method: journal, fsync
	Checkpoints       prometheus.Histogram
}

// NewMetrics registers the node's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_instances_received_total",
			Help: "C-STORE requests answered, by outcome (stored, refused, failed, ignored)."}, []string{"outcome"}),
		ReceivedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tweedie_received_bytes_total",
			Help: "Data set bytes spooled."}),
		Associations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_associations_total",
			Help: "Associations by result (accepted, rejected)."}, []string{"result"}),
		SeriesCompleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_series_completed_total",
			Help: "Series completed, by reason (timeout, count)."}, []string{"reason"}),
		SeriesOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tweedie_series_open",
			Help: "Series being received."}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_jobs_total",
			Help: "Jobs run by this process, by outcome (done, retry, quarantined, refused: an invalid message terminated)."}, []string{"outcome"}),
		JobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tweedie_job_seconds",
			Help: "Job run time.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		Dispatched: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_dispatched_total",
			Help: "Instances sent to destinations, by destination and outcome (sent, retry, dead_letter)."}, []string{"destination", "outcome"}),
		OutboxPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tweedie_outbox_pending",
			Help: "Instances waiting in a destination's outbox."}, []string{"destination"}),
		SpoolFreeBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tweedie_spool_free_bytes",
			Help: "Free bytes on the state folder's file system at the last C-STORE."}),
		StoreLatencySecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tweedie_store_commit_seconds",
			Help: "Time from the last data set fragment to a durable spool entry.", Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10)}),
		DuplicateInstance: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_duplicate_instances_total",
			Help: "Instances received again, by disposition (replaced, ignored, late_ignored, late_new_job)."}, []string{"disposition"}),
		Durable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tweedie_spool_durable_total",
			Help: "Instances made durable before Success, by method (journal: one flush of a journal segment; fsync: file and folder flushed)."}, []string{"method"}),
		Checkpoints: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tweedie_spool_checkpoint_seconds",
			Help: "Time of the spool checkpoints that free journal segments.", Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10)}),
	}
	r.MustRegister(m.Received, m.ReceivedBytes, m.Associations, m.SeriesCompleted, m.SeriesOpen, m.Jobs, m.JobSeconds,
		m.Dispatched, m.OutboxPending, m.SpoolFreeBytes, m.StoreLatencySecs, m.DuplicateInstance, m.Durable, m.Checkpoints,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
