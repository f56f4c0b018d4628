package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// jobs.isolation: process. A reconstructor that dies by SIGSEGV (the
// test-only "test-crash", which exists only with TWEEDIE_TEST_CRASH=1)
// kills its worker process, not serve: serve goes on answering C-ECHO and
// C-STORE, the job is quarantined after that one crash with the signal and
// the worker's last log lines in its reason, and the worker is restarted.
func TestWorkerCrashIsolated(t *testing.T) {
	peers.Need(t, "storescu", "echoscu")
	port := peers.FreePort(t)
	state := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "tweedie.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("node:\n  listen: 127.0.0.1:%d\n  state_dir: %s\nseries:\n  timeout: 300ms\nspool:\n  min_free: 0\n"+
		"http:\n  listen: \"\"\njobs:\n  isolation: process\n  workers: 1\n  ack_wait: 5s\n  max_attempts: 3\n"+
		"routing:\n  rules:\n    - name: crash\n      match: {StudyInstanceUID: {equals: 2.25.91}}\n      actions: [{reconstruct: {reconstructor: test-crash, destinations: [folder]}}]\n"+
		"  fallback: [{forward: {destinations: [folder]}}]\n", port, state)), 0o600)
	logw := &lockedBuffer{}
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(peers.Env(), "TWEEDIE_TEST_CRASH=1")
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", tailStr(logw.String(), 8000))
		}
	})
	peers.WaitPort(t, port, 30*time.Second)
	waitUntil(t, 60*time.Second, "the worker process", func() bool { return strings.Contains(logw.String(), "worker process started") })

	crash := writeStudy(t, t.TempDir(), "2.25.91", 1, 2, 8)
	var crashFiles []string
	for _, fs := range crash {
		crashFiles = fs
	}
	if out, err := storescuCmd(port, crashFiles...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	var reasonPath string
	waitUntil(t, 90*time.Second, "the crashed job quarantined", func() bool {
		m, _ := filepath.Glob(filepath.Join(state, "quarantine", "*", "reason.json"))
		if len(m) == 1 {
			reasonPath = m[0]
		}
		return len(m) == 1
	})
	var r struct {
		Reason   string `json:"reason"`
		Attempts int    `json:"attempts"`
	}
	b, _ := os.ReadFile(reasonPath)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Reason, "SIGSEGV") || !strings.Contains(r.Reason, "last log lines") || !strings.Contains(r.Reason, "job started") || r.Attempts != 1 {
		t.Errorf("reason.json: %s", b)
	}
	if n, _ := filepath.Glob(filepath.Join(filepath.Dir(reasonPath), "*.dcm")); len(n) != 2 {
		t.Errorf("%d inputs quarantined, want 2", len(n))
	}
	select {
	case err := <-exited:
		t.Fatalf("serve died with its worker: %v", err)
	default:
	}
	// serve still answers, and a series routed elsewhere is delivered by
	// the restarted worker.
	echo := exec.Command("echoscu", "-aec", "TWEEDIE", "127.0.0.1", fmt.Sprint(port))
	echo.Env = peers.Env()
	if out, err := echo.CombinedOutput(); err != nil {
		t.Fatalf("echoscu after the crash: %v\n%s", err, out)
	}
	ok := writeStudy(t, t.TempDir(), "2.25.92", 1, 2, 8)
	for _, fs := range ok {
		if out, err := storescuCmd(port, fs...).CombinedOutput(); err != nil {
			t.Fatalf("storescu after the crash: %v\n%s", err, out)
		}
	}
	waitUntil(t, 90*time.Second, "the other series delivered by the restarted worker", func() bool {
		m, _ := filepath.Glob(filepath.Join(state, "outgoing", "*.dcm"))
		return len(m) == 2
	})
	if c := strings.Count(logw.String(), "worker process ended; restarting"); c != 1 {
		t.Errorf("the worker ended %d times, want once (one crash)", c)
	}
}
