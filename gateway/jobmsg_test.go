package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A forged job published to the node's own embedded JetStream: one with
// ID "..", whose clean-up once removed the state folder, and one whose
// batch is "../x", which once forwarded a file from outside the batches
// to the destination. Both are terminated (never delivered again),
// audited as job-refused, and nothing is deleted, read or sent.
func TestForgedJobsRefused(t *testing.T) {
	c := testConfig(t, "jobs:\n  workers: 1\n  ack_wait: 2s\n  retry_delay: 50ms\n")
	n := startNode(t, c, nil)
	// Something under every folder the old clean-up would have removed,
	// and a file the "../x" batch points at.
	sentinel := filepath.Join(n.state, "sentinel")
	if err := os.WriteFile(sentinel, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(n.state, "x")
	if err := os.MkdirAll(outside, 0o750); err != nil {
		t.Fatal(err)
	}
	victim := writeSeries(t, outside, "2.25.77", "2.25.77.1", 1, 8)[0]
	victimName := "2.25.77.1.1.dcm"
	if err := os.Rename(victim, filepath.Join(outside, victimName)); err != nil {
		t.Fatal(err)
	}
	forged := []map[string]any{
		{"id": "..", "batch": "..", "kind": "forward", "destinations": []string{"folder"}, "study_uid": "2.25.77",
			"series_uid": "2.25.77.1", "inputs": []string{victimName}},
		{"id": "2.25.77.1-g1-a0", "batch": "../x", "kind": "forward", "destinations": []string{"folder"}, "study_uid": "2.25.77",
			"series_uid": "2.25.77.1", "inputs": []string{victimName}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, f := range forged {
		b, _ := json.Marshal(f)
		if _, err := n.queue.js.Publish(ctx, JobSubject, b, jetstream.WithMsgID("forged-"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	audit := filepath.Join(n.state, "audit.log")
	waitFor(t, 30*time.Second, "two job-refused audit events", func() bool { return len(auditEvents(t, audit, "job-refused")) >= 2 })
	// Terminated: the work queue holds nothing, nothing waits for an
	// acknowledgement and nothing was delivered twice.
	waitFor(t, 30*time.Second, "the forged messages gone from the consumer", func() bool {
		ci, err := n.queue.job.Info(ctx)
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	})
	ci, err := n.queue.job.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumRedelivered != 0 || ci.Delivered.Consumer != 2 {
		t.Errorf("consumer delivered %d, redelivered %d; want 2 deliveries, no redelivery", ci.Delivered.Consumer, ci.NumRedelivered)
	}
	ev := auditEvents(t, audit, "job-refused")
	if len(ev) != 2 {
		t.Fatalf("%d job-refused events, want 2", len(ev))
	}
	for i, want := range []string{"id", "batch"} {
		d, _ := ev[i]["description"].(string)
		if ev[i]["event_id"] != AuditSecurityAlert.Code || !strings.Contains(d, want) {
			t.Errorf("event %d: %v; want a Security Alert about the %s", i, ev[i], want)
		}
	}
	for _, p := range []string{sentinel, filepath.Join(n.state, "journal"), filepath.Join(n.state, "spool"),
		filepath.Join(n.state, "jetstream"), filepath.Join(outside, victimName)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v (the forged job deleted it)", p, err)
		}
	}
	if got := countFiles(filepath.Join(n.state, "outgoing"), "*.dcm") + countFiles(filepath.Join(n.state, "outbox", "folder"), "*.dcm"); got != 0 {
		t.Errorf("%d files sent from outside the batches", got)
	}
	if q := countFiles(filepath.Join(n.state, "quarantine"), "*"); q != 0 {
		t.Errorf("%d quarantine entries for refused messages", q)
	}
	// The node still works: a real series goes through.
	files := writeSeries(t, t.TempDir(), "2.25.78", "2.25.78.1", 2, 8)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "2 instances in the folder destination", func() bool {
		return countFiles(filepath.Join(n.state, "outgoing"), "*.dcm") == 2
	})
}

func TestDecodeJob(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"id": "1.2.3-g1-a0", "batch": "1.2.3-g1", "kind": "reconstruct", "reconstructor": "dds",
			"params": map[string]string{"budget": "8s", "cg.iters": "5"}, "destinations": []string{"pacs", "folder"},
			"rule": "mr raw", "study_uid": "1.2", "series_uid": "1.2.3", "inputs": []string{"1.2.3.4.dcm", "1.2.3.5.dcm"},
			"created": "2025-01-02T03:04:05Z"}
	}
	enc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	if j, err := DecodeJob(enc(good())); err != nil || j.ID != "1.2.3-g1-a0" || len(j.Inputs) != 2 {
		t.Fatalf("good job: %+v %v", j, err)
	}
	cases := []struct {
		name  string
		field string
		val   any
	}{
		{"id dotdot", "id", ".."},
		{"id of another batch", "id", "1.2.4-g1-a0"},
		{"id with slash", "id", "1.2.3-g1-a0/.."},
		{"id leading zero", "id", "1.2.3-g1-a01"},
		{"batch dotdot", "batch", "../x"},
		{"batch absolute", "batch", "/etc"},
		{"batch no generation", "batch", "1.2.3"},
		{"batch generation 0", "batch", "1.2.3-g0"},
		{"kind", "kind", "shell"},
		{"reconstructor path", "reconstructor", "../dds"},
		{"destination path", "destinations", []string{"../outbox"}},
		{"param key", "params", map[string]string{"../k": "v"}},
		{"param control", "params", map[string]string{"k": "a\nb"}},
		{"rule control", "rule", "x\x1b[31m"},
		{"study uid", "study_uid", "1.2.a"},
		{"series of another batch", "series_uid", "1.2.4"},
		{"input dotdot", "inputs", []string{"../../audit.log"}},
		{"input not dcm", "inputs", []string{"1.2.3.4"}},
		{"input dot dcm", "inputs", []string{".dcm"}},
		{"input twice", "inputs", []string{"1.2.3.4.dcm", "1.2.3.4.dcm"}},
		{"no inputs", "inputs", []string{}},
		{"unknown field", "exec", "rm -rf"},
	}
	for _, tc := range cases {
		m := good()
		m[tc.field] = tc.val
		if _, err := DecodeJob(enc(m)); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: %v, want ErrInvalidJob", tc.name, err)
		}
	}
	m := good()
	m["kind"], m["reconstructor"], m["params"] = "forward", "", nil
	if _, err := DecodeJob(enc(m)); err != nil {
		t.Errorf("forward job: %v", err)
	}
	for _, raw := range []string{"", "null", "[]", `{"id":"1.2.3-g1-a0"} {}`, string(enc(good())) + "x"} {
		if _, err := DecodeJob([]byte(raw)); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%q: %v, want ErrInvalidJob", clip(raw), err)
		}
	}
}
