package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/rawdata"
)

func TestHeaderAndSubject(t *testing.T) {
	dir := t.TempDir()
	f := writeSeries(t, dir, "2.25.7", "2.25.7.1", 1, 16)[0]
	h, err := ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if h.StudyUID != "2.25.7" || h.SeriesUID != "2.25.7.1" || h.SOPInstanceUID != "2.25.7.1.1" || h.PatientID != "BENCH01" {
		t.Fatalf("header %+v", h)
	}
	s, err := h.Subject()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ attr, want string }{{"Modality", "MR"}, {"(0008,0060)", "MR"}, {"00080060", "MR"},
		{"SeriesInstanceUID", "2.25.7.1"}, {"Rows", "16"}, {"InstanceNumber", "1"}} {
		v, ok := s.Values(tc.attr)
		if !ok || len(v) != 1 || v[0] != tc.want {
			t.Errorf("Values(%q) = %q %v, want %q", tc.attr, v, ok, tc.want)
		}
	}
	if _, ok := s.Values("PixelData"); ok {
		t.Error("pixel data must not be in the header")
	}
	if _, ok := s.Values("NoSuchKeyword"); ok {
		t.Error("unknown keyword found")
	}
	// Every project file, in whatever transfer syntax, yields its UIDs.
	for _, p := range peers.DICOMFiles(t) {
		h, err := ReadHeader(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		fi, _ := dimse.ReadFileInfo(p)
		if h.SOPInstanceUID != fi.SOPInstanceUID || h.SeriesUID == "" {
			t.Errorf("%s: header %q/%q, meta %q", filepath.Base(p), h.SOPInstanceUID, h.SeriesUID, fi.SOPInstanceUID)
		}
		if _, err := h.Subject(); err != nil {
			t.Errorf("%s: subject: %v", filepath.Base(p), err)
		}
	}
}

// The identity reconstructor changes only the instance and series UIDs, and
// derives them deterministically from the input and the job.
func TestIdentityRunnerIsDeterministic(t *testing.T) {
	in := writeSeries(t, t.TempDir(), "2.25.8", "2.25.8.1", 2, 16)
	run := func(jobID string) []string {
		out := t.TempDir()
		outs, err := Identity.Run(context.Background(), Job{ID: jobID}, in, out)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	a, b, c := run("job-1"), run("job-1"), run("job-2")
	for i := range in {
		if filepath.Base(a[i]) != filepath.Base(b[i]) {
			t.Errorf("same job, different outputs: %s %s", a[i], b[i])
		}
		if filepath.Base(a[i]) == filepath.Base(c[i]) {
			t.Errorf("different jobs, same output %s", a[i])
		}
		h, err := ReadHeader(a[i])
		if err != nil {
			t.Fatal(err)
		}
		if h.SOPInstanceUID+".dcm" != filepath.Base(a[i]) || h.SeriesUID != DeriveUID("2.25.8.1", "job-1", "series") {
			t.Errorf("output header %+v", h)
		}
		fi, _ := dimse.ReadFileInfo(a[i])
		if fi.SOPInstanceUID != h.SOPInstanceUID {
			t.Errorf("meta SOP instance %s, data set %s", fi.SOPInstanceUID, h.SOPInstanceUID)
		}
		// Apart from the two UIDs, dcmdump sees the same data set.
		strip := func(d string) string {
			var keep []string
			for _, l := range strings.Split(d, "\n") {
				if !strings.HasPrefix(l, "(0008,0018)") && !strings.HasPrefix(l, "(0020,000e)") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if d := peers.DiffDumps(strip(peers.Dump(t, in[i])), strip(peers.Dump(t, a[i]))); d != "" {
			t.Errorf("identity output differs: %s", d)
		}
	}
}

func TestForwardDuplicatesAndLateInstances(t *testing.T) {
	for _, policy := range []string{"new_job", "ignore"} {
		t.Run(policy, func(t *testing.T) {
			c := testConfig(t, "series:\n  timeout: 400ms\n  after_processed: "+policy+"\nspool:\n  min_free: 0\n  duplicates: replace\n")
			n := startNode(t, c, nil)
			files := writeSeries(t, t.TempDir(), "2.25.9", "2.25.9.1", 3, 32)
			if out, err := storescu(t, n.port, append(files, files[0])...); err != nil {
				t.Fatalf("storescu: %v\n%s", err, out)
			}
			outgoing := filepath.Join(n.state, "outgoing")
			waitFor(t, 20*time.Second, "3 instances in the folder destination", func() bool { return countFiles(outgoing, "*.dcm") == 3 })
			audit := filepath.Join(n.state, "audit.log")
			if d := auditEvents(t, audit, "instance-duplicate"); len(d) != 1 {
				t.Errorf("%d duplicate events, want 1", len(d))
			}
			waitFor(t, 10*time.Second, "batch cleaned", func() bool { return countFiles(filepath.Join(n.state, "batches"), "*") == 0 })
			// The same instance again, after the series was processed.
			if out, err := storescu(t, n.port, files[1]); err != nil {
				t.Fatalf("storescu: %v\n%s", err, out)
			}
			switch policy {
			case "new_job":
				waitFor(t, 20*time.Second, "a job for generation 2", func() bool {
					for _, e := range auditEvents(t, audit, "job-finished") {
						if strings.HasSuffix(e["job"].(string), "-g2-a0") {
							return true
						}
					}
					return false
				})
				if len(auditEvents(t, audit, "instance-late")) != 1 {
					t.Error("no instance-late audit event")
				}
			case "ignore":
				waitFor(t, 10*time.Second, "instance-ignored event", func() bool { return len(auditEvents(t, audit, "instance-ignored")) == 1 })
				time.Sleep(600 * time.Millisecond) // a series timeout: nothing may start
				if n.spool.OpenSeries() != 0 {
					t.Error("an ignored instance opened a series")
				}
			}
			if got := countFiles(outgoing, "*.dcm"); got != 3 {
				t.Errorf("%d files in the destination, want 3", got)
			}
			waitFor(t, 10*time.Second, "association and reception audit events", func() bool {
				return len(auditEvents(t, audit, "instances-received")) >= 1 && len(auditEvents(t, audit, "association-accepted")) >= 2
			})
			if strings.Contains(n.log.String(), "BENCH") {
				t.Error("patient name or ID in the operational log")
			}
			if e := auditEvents(t, audit, "instances-received"); len(e) > 0 && e[0]["patient_id"] != nil {
				t.Error("patient ID in the audit stream although audit.include_patient is off")
			}
		})
	}
}

// writeRaw writes raw-data objects that declare their acquisition size.
func writeRaw(t *testing.T, dir, study, series, acq string, n int) []string {
	t.Helper()
	var out []string
	for i := 1; i <= n; i++ {
		k := &rawdata.MRKSpace{Slices: 1, Coils: 1, Rows: 4, Cols: 4, Data: make([]complex64, 16), Mask: make([]uint8, 16)}
		for j := range k.Mask {
			k.Mask[j], k.Data[j] = 1, complex(float32(j), 0)
		}
		k.PatientName, k.PatientID = "Doe^Jane", "PID1"
		k.StudyInstanceUID, k.SeriesInstanceUID, k.SOPInstanceUID = study, series, fmt.Sprintf("%s.%d", series, i)
		k.FrameOfReferenceUID = study + ".9"
		k.StudyDate, k.StudyTime, k.SeriesNumber, k.InstanceNumber = "20260101", "120000", 1, i
		k.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
		k.Positions = [][3]float64{{0, 0, float64(i)}}
		k.PixelSpacing = [2]float64{1, 1}
		k.SliceThickness = 1
		k.ImageRows, k.ImageCols = 4, 4
		k.Acquisition = rawdata.Acquisition{UID: acq, NumInstances: n, InstanceIndex: i, FirstSlice: i - 1, TotalSlices: n}
		p := filepath.Join(dir, fmt.Sprintf("raw%d.dcm", i))
		if err := rawdata.WriteMR(p, k); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// A series whose objects declare the acquisition's size completes when the
// last one arrives, long before the timeout; a partial one survives a
// restart and completes afterwards.
func TestCompletionByCountAndAfterRestart(t *testing.T) {
	c := testConfig(t, "series:\n  timeout: 1h\n  after_processed: new_job\n")
	n := startNode(t, c, nil)
	raw := writeRaw(t, t.TempDir(), "2.25.10", "2.25.10.1", "2.25.10.99", 3)
	if h, err := ReadHeader(raw[0]); err != nil || h.NumInstances != 3 || h.AcquisitionUID != "2.25.10.99" {
		t.Fatalf("raw header: %+v %v", h, err)
	}
	if out, err := storescu(t, n.port, raw[:2]...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	if n.spool.OpenSeries() != 1 {
		t.Fatal("two of three instances must leave the series open")
	}
	if out, err := storescu(t, n.port, raw[2]); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	outgoing := filepath.Join(n.state, "outgoing")
	waitFor(t, 20*time.Second, "the complete acquisition forwarded", func() bool { return countFiles(outgoing, "*.dcm") == 3 })

	// A partial series, a restart with a short timeout: it completes.
	files := writeSeries(t, t.TempDir(), "2.25.11", "2.25.11.1", 2, 16)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	n.stop(t)
	if got := countFiles(filepath.Join(n.state, "spool"), "*/*/*.dcm"); got != 2 {
		t.Fatalf("%d spooled instances after shutdown, want 2", got)
	}
	c2 := *c
	c2.Series.Timeout = conf.Duration(300 * time.Millisecond)
	startNode(t, &c2, nil)
	waitFor(t, 20*time.Second, "the partial series forwarded after the restart", func() bool { return countFiles(outgoing, "*.dcm") == 5 })
}

// Rules: one series forwarded, one discarded, one reconstructed by the
// identity runner into new UIDs.
func TestRoutingActions(t *testing.T) {
	c := testConfig(t, `routing:
  rules:
    - name: keep
      match: {SeriesInstanceUID: {equals: "2.25.12.1"}}
      actions: [{forward: {destinations: [folder]}}]
    - name: recon
      match: {SeriesInstanceUID: {equals: "2.25.12.3"}}
      actions: [{reconstruct: {reconstructor: identity, destinations: [folder]}}]
  fallback: [{discard: {reason: not ours}}]
`)
	n := startNode(t, c, nil)
	dir := t.TempDir()
	var files []string
	for s := 1; s <= 3; s++ {
		files = append(files, writeSeries(t, dir, "2.25.12", fmt.Sprintf("2.25.12.%d", s), 2, 16)...)
	}
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	outgoing := filepath.Join(n.state, "outgoing")
	waitFor(t, 20*time.Second, "4 outputs", func() bool { return countFiles(outgoing, "*.dcm") == 4 })
	audit := filepath.Join(n.state, "audit.log")
	waitFor(t, 10*time.Second, "a discard event", func() bool { return len(auditEvents(t, audit, "series-discarded")) == 1 })
	for _, want := range []string{"2.25.12.1.1", "2.25.12.1.2"} {
		if _, err := os.Stat(filepath.Join(outgoing, want+".dcm")); err != nil {
			t.Errorf("forwarded %s missing", want)
		}
	}
	for i := 1; i <= 2; i++ {
		jobID := BatchID("2.25.12.3", 1) + "-a0"
		uid := DeriveUID(fmt.Sprintf("2.25.12.3.%d", i), jobID, "sop")
		if _, err := os.Stat(filepath.Join(outgoing, uid+".dcm")); err != nil {
			t.Errorf("reconstructed %s missing", uid)
		}
	}
	waitFor(t, 10*time.Second, "batches cleaned", func() bool { return countFiles(filepath.Join(n.state, "batches"), "*") == 0 })
}

func TestConfigRoutingErrorsHaveLines(t *testing.T) {
	y := `node:
  ae_title: TWEEDIE
routing:
  rules:
    - name: a
      match: {Modality: {equals: MR}}
      actions: [{forward: {destinations: [nowhere]}}]
    - name: b
      match: {NoSuchAttribute: {equals: x}}
      actions: [{reconstruct: {reconstructor: magic, destinations: [folder]}}]
  fallback: [{discard: {}}]
spool:
  duplicates: sometimes
`
	_, err := conf.Parse([]byte(y), "bad.yaml", ConfigCheck(Runners(nil)))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"line 9", "NoSuchAttribute", "line 13", "sometimes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	// The names are checked once the rules parse.
	y2 := strings.Replace(y, "NoSuchAttribute", "Modality", 1)
	y2 = strings.Replace(y2, "sometimes", "ignore", 1)
	_, err = conf.Parse([]byte(y2), "bad.yaml", ConfigCheck(Runners(nil)))
	for _, want := range []string{"line 7", "nowhere", "line 10", "magic"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// A destination that never answers: attempts with backoff, then the
// dead-letter folder with a reason and an audit event.
func TestDispatchDeadLetter(t *testing.T) {
	port := peers.FreePort(t)
	c := testConfig(t, fmt.Sprintf("destinations:\n  - {name: pacs, ae_title: PACS, host: 127.0.0.1, port: %d}\n"+
		"dispatch:\n  max_attempts: 3\n  backoff_initial: 20ms\n  backoff_max: 50ms\n  batch: 64\n", port))
	n := startNode(t, c, nil)
	files := writeSeries(t, t.TempDir(), "2.25.13", "2.25.13.1", 2, 16)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dead := filepath.Join(n.state, "dead-letter", "pacs")
	waitFor(t, 30*time.Second, "2 dead letters", func() bool { return countFiles(dead, "*.dcm") == 2 })
	if countFiles(dead, "*.reason.json") != 2 || countFiles(filepath.Join(n.state, "outbox", "pacs"), "*") != 0 {
		t.Error("reasons missing or outbox not empty")
	}
	var r deadLetterReason
	if err := readJSON(filepath.Join(dead, "2.25.13.1.1.dcm.reason.json"), &r); err != nil || r.Attempts != 3 || !strings.Contains(r.LastError, "association") {
		t.Errorf("reason %+v %v", r, err)
	}
	// The audit event follows the move into the dead-letter folder.
	waitFor(t, 10*time.Second, "2 audit events for the dead letters", func() bool {
		return len(auditEvents(t, filepath.Join(n.state, "audit.log"), "instances-transfer-failed")) == 2
	})
}

// A reconstructor that always fails: bounded attempts, then quarantine
// with a machine-readable reason and an audit event.
func TestJobQuarantine(t *testing.T) {
	calls := make(chan string, 10)
	fail := RunnerFunc(func(ctx context.Context, job Job, inputs []string, outDir string) ([]string, error) {
		calls <- job.ID
		return nil, errors.New("the model diverged")
	})
	c := testConfig(t, "jobs:\n  workers: 1\n  max_attempts: 2\n  ack_wait: 5s\n  retry_delay: 50ms\n"+
		"routing:\n  fallback: [{reconstruct: {reconstructor: failing, destinations: [folder]}}]\n", map[string]Runner{"failing": fail})
	n := startNode(t, c, map[string]Runner{"failing": fail})
	files := writeSeries(t, t.TempDir(), "2.25.14", "2.25.14.1", 2, 16)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	job := BatchID("2.25.14.1", 1) + "-a0"
	q := filepath.Join(n.state, "quarantine", job)
	waitFor(t, 30*time.Second, "the quarantine", func() bool { return countFiles(q, "reason.json") == 1 })
	var r quarantineReason
	if err := readJSON(filepath.Join(q, "reason.json"), &r); err != nil || r.Attempts != 2 || !strings.Contains(r.Reason, "diverged") {
		t.Errorf("reason %+v %v", r, err)
	}
	if countFiles(q, "*.dcm") != 2 {
		t.Error("inputs not quarantined")
	}
	if len(calls) != 2 {
		t.Errorf("runner called %d times, want 2", len(calls))
	}
	audit := filepath.Join(n.state, "audit.log")
	waitFor(t, 10*time.Second, "the failure audit event", func() bool {
		for _, e := range auditEvents(t, audit, "job-failed") {
			if e["outcome"] == float64(OutcomeSerious) {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "the batch removed", func() bool { return countFiles(filepath.Join(n.state, "batches"), "*") == 0 })
}

// Full disk: the state folder on a small tmpfs, filled by a ballast file.
// The sender gets 0xA700, from the free-space floor or from ENOSPC in the
// middle of an object; nothing half-written remains; once the ballast is
// gone the same send succeeds.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	for _, tc := range []struct {
		name    string
		minFree string
		ballast int64 // bytes left free by the ballast, roughly
	}{{"floor", "2MiB", 1 << 20}, {"enospc", "0", 400 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs: %v %s", err, out)
			}
			t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
			out := t.TempDir()
			c := testConfig(t, fmt.Sprintf("spool:\n  min_free: %s\n  duplicates: replace\nseries:\n  timeout: 300ms\n  after_processed: new_job\n"+
				"destinations:\n  - {name: out, type: folder, path: %s}\naudit:\n  path: %s\nnats:\n  store_dir: %s\n",
				tc.minFree, out, filepath.Join(t.TempDir(), "audit.log"), t.TempDir()))
			c.Node.StateDir = filepath.Join(mnt, "state")
			n := startNode(t, c, nil)
			free, err := freeBytes(mnt)
			if err != nil {
				t.Fatal(err)
			}
			ballast := filepath.Join(mnt, "ballast")
			if err := os.WriteFile(ballast, make([]byte, free-tc.ballast), 0o600); err != nil {
				t.Fatal(err)
			}
			files := writeSeries(t, t.TempDir(), "2.25.15", "2.25.15.1", 10, 256) // 10 × 131 KB
			o, _ := storescu(t, n.port, files...)
			if !strings.Contains(o, "Refused: OutOfResources") {
				t.Fatalf("no 0xA700 in storescu's output:\n%s", tail(o, 2000))
			}
			// Nothing half-written: no temporary file, and every spooled
			// instance is whole.
			if countFiles(filepath.Join(c.Node.StateDir, "tmp"), "*") != 0 {
				t.Error("temporary files left behind")
			}
			spooled, _ := filepath.Glob(filepath.Join(c.Node.StateDir, "spool", "*", "*", "*.dcm"))
			spooled2, _ := filepath.Glob(filepath.Join(c.Node.StateDir, "batches", "*", "*.dcm"))
			for _, p := range append(spooled, spooled2...) {
				if h, err := ReadHeader(p); err != nil || h.SeriesUID != "2.25.15.1" {
					t.Errorf("%s is not whole: %v", filepath.Base(p), err)
				}
			}
			if tc.name == "floor" && len(spooled)+len(spooled2)+countFiles(out, "*.dcm") != 0 {
				t.Error("instances stored below the floor")
			}
			// Space returns; the same send succeeds.
			os.Remove(ballast)
			if o, err := storescu(t, n.port, files...); err != nil {
				t.Fatalf("second send failed: %v\n%s", err, tail(o, 2000))
			}
			waitFor(t, 30*time.Second, "all 10 in the destination", func() bool { return countFiles(out, "*.dcm") == 10 })
		})
	}
}
