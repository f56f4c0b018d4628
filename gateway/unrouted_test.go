package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/rules"
)

// An ordinary image (not tweedie raw data) sent to a node on the embedded
// default routing is acknowledged and kept in STATE/unrouted, audited and
// logged at WARN, not deleted; the sweeper removes it after the retention,
// audited again (issue 15).
func TestDefaultRoutingKeepsUnroutedSeries(t *testing.T) {
	state := t.TempDir()
	// No routing section: the embedded default (conf/defaults.yaml), whose
	// reconstructors stand in as identity here.
	yml := fmt.Sprintf("node:\n  listen: 127.0.0.1:0\n  state_dir: %s\nseries:\n  timeout: 300ms\nhttp:\n  listen: \"\"\nspool:\n  min_free: 0\n", state)
	runners := map[string]Runner{"dds": Identity, "mbir": Identity}
	c, err := conf.Parse([]byte(yml), "test.yaml", ConfigCheck(Runners(runners)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RoutingDefault || time.Duration(c.Series.UnroutedRetention) != 7*24*time.Hour {
		t.Fatalf("routing default %v, retention %v", c.RoutingDefault, c.Series.UnroutedRetention)
	}
	n := startNode(t, c, runners)
	files := writeSeries(t, t.TempDir(), "2.25.31", "2.25.31.1", 2, 16)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	kept := filepath.Join(state, "unrouted", "2.25.31", "2.25.31.1")
	audit := filepath.Join(state, "audit.log")
	waitFor(t, 20*time.Second, "the series kept unrouted", func() bool {
		return countFiles(kept, "*.dcm") == 2 && len(auditEvents(t, audit, "series-unrouted")) == 1
	})
	waitFor(t, 10*time.Second, "the batch gone", func() bool { return countFiles(filepath.Join(state, "batches"), "*") == 0 })
	for _, sop := range []string{"2.25.31.1.1", "2.25.31.1.2"} {
		if _, err := os.Stat(filepath.Join(kept, sop+".dcm")); err != nil {
			t.Errorf("kept instance: %v", err)
		}
	}
	if ev := auditEvents(t, audit, "series-unrouted")[0]; ev["series_uid"] != "2.25.31.1" || ev["folder"] != kept {
		t.Errorf("audit event %v", ev)
	}
	if log := n.log.String(); !strings.Contains(log, `"level":"warn"`) || !strings.Contains(log, "kept unrouted") {
		t.Errorf("no WARN line for the kept series:\n%s", tail(log, 3000))
	}
	if len(auditEvents(t, audit, "series-discarded")) != 0 {
		t.Error("the series was discarded")
	}

	// Within the retention the sweeper leaves it; after it, removes it.
	n.sweepUnrouted(time.Now().Add(time.Hour))
	if countFiles(kept, "*.dcm") != 2 {
		t.Fatal("removed before the retention ran out")
	}
	n.sweepUnrouted(time.Now().Add(7*24*time.Hour + time.Minute))
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("kept folder after the retention: %v", err)
	}
	ev := auditEvents(t, audit, "unrouted-expired")
	if len(ev) != 1 || ev[0]["series_uid"] != "2.25.31.1" || ev[0]["instances"] != float64(2) {
		t.Fatalf("expiry events %v", ev)
	}
}

// decide is pure: job IDs from the batch and the action index; a keep
// makes no job and says so; retention 0 leaves a keep to discardBatch.
func TestDecide(t *testing.T) {
	b := Batch{ID: "2.25.1-g1", Series: SeriesInfo{StudyUID: "2.25", SeriesUID: "2.25.1"}}
	now := time.Unix(0, 0)
	fwd := rules.Decision{Actions: []rules.Action{{Kind: rules.Forward, Destinations: []string{"pacs"}},
		{Kind: rules.Reconstruct, Reconstructor: "dds", Destinations: []string{"pacs"}}}}
	p := decide(fwd, b, []string{"a.dcm"}, now)
	if len(p.jobs) != 2 || p.jobs[0].ID != "2.25.1-g1-a0" || p.jobs[1].ID != "2.25.1-g1-a1" || p.jobs[1].Kind != "reconstruct" || p.keep {
		t.Fatalf("plan %+v", p)
	}
	keep := rules.Decision{Fallback: true, Actions: []rules.Action{{Kind: rules.Discard, Keep: true, Reason: "not ours"}}}
	if p := decide(keep, b, nil, now); len(p.jobs) != 0 || !p.keep || !strings.Contains(p.reason, "not ours") {
		t.Fatalf("plan %+v", p)
	}
	discard := rules.Decision{Actions: []rules.Action{{Kind: rules.Discard}}}
	if p := decide(discard, b, nil, now); len(p.jobs) != 0 || p.keep {
		t.Fatalf("plan %+v", p)
	}
}
