package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// End-to-end tests of the gateway with the built binary: DCMTK storescu
// sends, tweedie routes, Orthanc (or folders) receive.

func writeStudy(t *testing.T, dir, study string, series, perSeries, size int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for s := 1; s <= series; s++ {
		su := fmt.Sprintf("%s.%d", study, s)
		for i := 1; i <= perSeries; i++ {
			p := filepath.Join(dir, fmt.Sprintf("s%d-%03d.dcm", s, i))
			if err := peers.WriteMR(p, study, su, fmt.Sprintf("%s.%d", su, i), i, size, size); err != nil {
				t.Fatal(err)
			}
			out[su] = append(out[su], p)
		}
	}
	return out
}

func allFiles(m map[string][]string) []string {
	var out []string
	for s := 1; ; s++ {
		found := false
		for k, v := range m {
			if strings.HasSuffix(k, fmt.Sprintf(".%d", s)) {
				out, found = append(out, v...), true
			}
		}
		if !found {
			return out
		}
	}
}

func storescuCmd(port int, files ...string) *exec.Cmd {
	args := append([]string{"-aec", "TWEEDIE", "-aet", "SCANNER", "127.0.0.1", fmt.Sprint(port)}, files...)
	c := exec.Command("storescu", args...)
	c.Env = peers.Env()
	return c
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tweedie.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, "config", "check", p); code != 0 {
		t.Fatalf("config check: %s", out)
	}
	return p
}

// startServe runs `tweedie serve --config cfg` and waits for its port.
func startServe(t *testing.T, cfg string, port int, logw io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = peers.Env()
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peers.WaitPort(t, port, 20*time.Second)
	return cmd
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func orthancInstances(t *testing.T, o *peers.Orthanc) int {
	var ids []string
	o.Get(t, "/instances", &ids)
	return len(ids)
}

// TestEndToEndOrthanc: storescu sends a study of three series; the rules
// forward one, discard one, and let the fallback discard the third;
// Orthanc holds exactly the forwarded instances.
func TestEndToEndOrthanc(t *testing.T) {
	peers.Need(t, "storescu", "Orthanc")
	o := peers.StartOrthanc(t, nil)
	port := peers.FreePort(t)
	state := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
series:
  timeout: 500ms
http:
  listen: ""
destinations:
  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}
routing:
  rules:
    - name: keep-first
      match: {SeriesInstanceUID: {equals: "2.25.500.1"}}
      actions: [{forward: {destinations: [pacs]}}]
    - name: drop-second
      match: {SeriesInstanceUID: {equals: "2.25.500.2"}}
      actions: [{discard: {reason: localizer}}]
  fallback: [{discard: {}}]
`, port, state, o.DICOMPort))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	study := writeStudy(t, t.TempDir(), "2.25.500", 3, 4, 32)
	if out, err := storescuCmd(port, allFiles(study)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	waitUntil(t, 30*time.Second, "4 instances in Orthanc", func() bool { return orthancInstances(t, o) >= 4 })
	waitUntil(t, 10*time.Second, "all series routed", func() bool {
		return strings.Count(readFile(filepath.Join(state, "audit.log")), `"series-discarded"`) == 2
	})
	time.Sleep(500 * time.Millisecond)
	if n := orthancInstances(t, o); n != 4 {
		t.Errorf("Orthanc holds %d instances, want 4", n)
	}
	for s := 1; s <= 3; s++ {
		for i := 1; i <= 4; i++ {
			uid := fmt.Sprintf("2.25.500.%d.%d", s, i)
			has := o.LookupInstance(t, uid) != ""
			if has != (s == 1) {
				t.Errorf("instance %s in Orthanc: %v", uid, has)
			}
		}
	}
	serve.Process.Signal(syscall.SIGTERM)
	serve.Wait()
	if l := logs.String(); strings.Contains(l, "BENCH^MR") || strings.Contains(l, "BENCH01") {
		t.Error("patient name or ID in the operational log")
	}
	audit := readFile(filepath.Join(state, "audit.log"))
	for _, ev := range []string{"association-accepted", "instances-received", "job-started", "job-finished", "instances-transferred", "configuration-loaded"} {
		if !strings.Contains(audit, `"event":"`+ev+`"`) {
			t.Errorf("audit stream lacks %s", ev)
		}
	}
	if strings.Contains(audit, "BENCH01") {
		t.Error("patient ID in the audit stream although audit.include_patient is off")
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// proxy is a TCP forwarder in front of a destination that can be taken
// down (connections refused and cut) and brought back on the same port.
type proxy struct {
	port, target int
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func newProxy(t *testing.T, target int) *proxy {
	p := &proxy{port: peers.FreePort(t), target: target, conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up(t *testing.T) {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port)); err == nil {
			p.mu.Lock()
			p.ln = ln
			p.mu.Unlock()
			go p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("proxy cannot listen again: %v", err)
}

func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			d, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.target))
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns[c], p.conns[d] = true, true
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			io.Copy(c, d)
			c.Close()
		}()
	}
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestCrashRecovery kills `tweedie serve` with SIGKILL at random moments
// while a study is received and forwarded, 22 times, restarting it each
// time; the destination also goes down for a while. In the end Orthanc
// holds every instance exactly once and the outbox is empty.
func TestCrashRecovery(t *testing.T) {
	peers.Need(t, "storescu", "Orthanc")
	o := peers.StartOrthanc(t, nil)
	px := newProxy(t, o.DICOMPort)
	port := peers.FreePort(t)
	state := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
series:
  timeout: 300ms
http:
  listen: ""
jobs:
  ack_wait: 1s
  retry_delay: 100ms
  max_attempts: 1000
dispatch:
  max_attempts: 1000
  backoff_initial: 50ms
  backoff_max: 500ms
  batch: 16
destinations:
  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}
routing:
  rules: []
  fallback: [{forward: {destinations: [pacs]}}]
log:
  level: info
  format: json
`, port, state, px.port))
	study := writeStudy(t, t.TempDir(), "2.25.600", 4, 25, 128)
	files := allFiles(study)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var logs lockedBuffer
	const kills = 22
	for k := 0; k < kills; k++ {
		if k == 6 {
			px.down() // the destination goes away for kills 6 to 11
		}
		if k == 12 {
			px.up(t)
		}
		serve := startServe(t, cfg, port, &logs)
		sender := storescuCmd(port, files...)
		_ = sender.Start()
		time.Sleep(time.Duration(50+rng.Intn(500)) * time.Millisecond)
		_ = serve.Process.Signal(syscall.SIGKILL)
		_ = serve.Wait()
		_ = sender.Wait()
	}
	before := orthancInstances(t, o)
	// The last run is left alone; the sender sends until it succeeds.
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	waitUntil(t, 60*time.Second, "a complete send", func() bool {
		return storescuCmd(port, files...).Run() == nil
	})
	waitUntil(t, 90*time.Second, "every instance in Orthanc", func() bool { return orthancInstances(t, o) >= len(files) })
	outbox := filepath.Join(state, "outbox", "pacs")
	waitUntil(t, 60*time.Second, "the outbox empty and the batches done", func() bool {
		e1, _ := os.ReadDir(outbox)
		e2, _ := os.ReadDir(filepath.Join(state, "batches"))
		e3, _ := os.ReadDir(filepath.Join(state, "spool"))
		return len(e1) == 0 && len(e2) == 0 && len(e3) == 0
	})
	if n := orthancInstances(t, o); n != len(files) {
		t.Errorf("Orthanc holds %d instances, want %d", n, len(files))
	}
	t.Logf("%d SIGKILLs; Orthanc held %d of %d instances before the last run; %d restarts replayed spool journal records",
		kills, before, len(files), strings.Count(logs.String(), "journal replayed"))
	for su, fs := range study {
		for i := range fs {
			uid := fmt.Sprintf("%s.%d", su, i+1)
			if o.LookupInstance(t, uid) == "" {
				t.Errorf("instance %s missing from Orthanc", uid)
			}
		}
	}
	if d, _ := os.ReadDir(filepath.Join(state, "dead-letter", "pacs")); len(d) != 0 {
		t.Errorf("%d dead letters", len(d))
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", tailStr(logs.String(), 8000))
	}
}

func tailStr(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestWorkers: serve (no in-process worker, its JetStream listening on
// loopback) and two `tweedie worker` processes on the same JetStream; the
// series reach the workers through the object store, and every job is
// done exactly once.
func TestWorkers(t *testing.T) {
	peers.Need(t, "storescu")
	port, natsPort := peers.FreePort(t), peers.FreePort(t)
	out := t.TempDir()
	common := fmt.Sprintf(`http:
  listen: ""
destinations:
  - {name: results, type: folder, path: %s}
routing:
  fallback: [{reconstruct: {reconstructor: identity, destinations: [results]}}]
`, out)
	serveState := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("node:\n  listen: 127.0.0.1:%d\n  state_dir: %s\nseries:\n  timeout: 300ms\nnats:\n  listen: 127.0.0.1:%d\njobs:\n  workers: 0\n%s",
		port, serveState, natsPort, common))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	peers.WaitPort(t, natsPort, 20*time.Second)
	var audits []string
	for w := 0; w < 2; w++ {
		st := t.TempDir()
		wcfg := writeConfig(t, fmt.Sprintf("node:\n  state_dir: %s\nnats:\n  url: nats://127.0.0.1:%d\njobs:\n  workers: 2\n%s", st, natsPort, common))
		cmd := exec.Command(binary, "worker", "--config", wcfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		audits = append(audits, filepath.Join(st, "audit.log"))
	}
	const series, per = 6, 3
	study := writeStudy(t, t.TempDir(), "2.25.700", series, per, 32)
	if o, err := storescuCmd(port, allFiles(study)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, o)
	}
	waitUntil(t, 60*time.Second, "all outputs", func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*.dcm"))
		return len(m) == series*per
	})
	waitUntil(t, 30*time.Second, "the serve node's batches cleaned", func() bool {
		e, _ := os.ReadDir(filepath.Join(serveState, "batches"))
		return len(e) == 0
	})
	started, finished := map[string]int{}, map[string]int{}
	workersUsed := map[string]bool{}
	for _, a := range audits {
		f, err := os.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e struct{ Event, Job, Worker string }
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			switch e.Event {
			case "job-started":
				started[e.Job]++
			case "job-finished":
				finished[e.Job]++
				workersUsed[a] = true
			}
		}
		f.Close()
	}
	if len(finished) != series {
		t.Errorf("%d jobs finished, want %d", len(finished), series)
	}
	for j, n := range finished {
		if n != 1 || started[j] != 1 {
			t.Errorf("job %s started %d times, finished %d times", j, started[j], n)
		}
	}
	t.Logf("jobs per worker process: %d processes did work", len(workersUsed))
	if t.Failed() {
		t.Logf("logs:\n%s", tailStr(logs.String(), 6000))
	}
}

func TestRulesTestCommand(t *testing.T) {
	cfg := writeConfig(t, `routing:
  rules:
    - name: mr
      match: {Modality: {equals: MR}}
      actions: [{forward: {destinations: [folder]}}]
  fallback: [{discard: {}}]
`)
	study := writeStudy(t, t.TempDir(), "2.25.800", 2, 2, 16)
	out, code := run(t, append([]string{"rules", "test", "--config", cfg}, allFiles(study)...)...)
	if code != 0 || strings.Count(out, `rule "mr" matched`) != 2 || !strings.Contains(out, "forward to folder") ||
		!strings.Contains(out, "series 2.25.800.1 (2 instances") {
		t.Errorf("rules test: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("routing:\n  rules:\n    - name: x\n      match: {Modality: {equalz: MR}}\n      actions: [{forward: {destinations: [nowhere]}}]\n  fallback: [{discard: {}}]\n"), 0o600)
	out, code = run(t, "config", "check", bad)
	if code != 1 || !strings.Contains(out, "line 4") {
		t.Errorf("bad rules: exit %d\n%s", code, out)
	}
}
