package gateway

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestRoutingRetriedWithBackoff: a series whose jobs cannot be queued
// (the job stream gone from the real embedded JetStream) is routed again
// with backoff, and its jobs are queued once the stream is back — not
// only at the next start.
func TestRoutingRetriedWithBackoff(t *testing.T) {
	b0 := routeBackoff0
	routeBackoff0 = 100 * time.Millisecond
	defer func() { routeBackoff0 = b0 }()
	c := testConfig(t, "jobs:\n  workers: 0\n  ack_wait: 5s\n  retry_delay: 100ms\n"+
		"routing:\n  fallback: [{reconstruct: {reconstructor: identity, destinations: [folder]}}]\n")
	tn := startNode(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := tn.queue.js
	info, err := js.Stream(ctx, JobStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if err := js.DeleteStream(ctx, JobStream); err != nil {
		t.Fatal(err)
	}
	const series = "2.25.5301"
	files := writeSeries(t, t.TempDir(), "2.25.5300", series, 2, 16)
	if out, err := storescu(t, tn.port, files...); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	waitFor(t, time.Minute, "two failed routing attempts", func() bool {
		return strings.Count(tn.log.String(), "routing failed; will retry") >= 2
	})
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: cfg.Name, Subjects: cfg.Subjects,
		Retention: cfg.Retention, Storage: cfg.Storage, Duplicates: cfg.Duplicates}); err != nil {
		t.Fatal(err)
	}
	jobsJSON := filepath.Join(tn.state, "batches", BatchID(series, 1), "jobs.json")
	waitFor(t, time.Minute, "the jobs queued after the stream came back", func() bool { return fileExists(jobsJSON) })
	st, err := js.Stream(ctx, JobStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("%d job messages in the stream, want 1", n)
	}
}
