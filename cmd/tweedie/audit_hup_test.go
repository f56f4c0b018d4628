package main

import (
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

// TestServeSIGHUPReopensAudit: logrotate moves the audit log away and
// sends SIGHUP; serve writes the next events (a C-ECHO's association)
// into a new file at the path, none into the moved one.
func TestServeSIGHUPReopensAudit(t *testing.T) {
	peers.Need(t, "echoscu")
	port := peers.FreePort(t)
	state := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("node:\n  listen: 127.0.0.1:%d\n  state_dir: %s\nspool:\n  min_free: 0\nhttp:\n  listen: \"\"\n", port, state))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", tailStr(logs.String(), 4000))
		}
	})
	audit := filepath.Join(state, "audit.log")
	waitUntil(t, 30*time.Second, "the application-start event", func() bool {
		b, _ := os.ReadFile(audit)
		return strings.Contains(string(b), "application-start")
	})
	if err := os.Rename(audit, audit+".1"); err != nil {
		t.Fatal(err)
	}
	serve.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 30*time.Second, "the audit log reopened", func() bool { return strings.Contains(logs.String(), "audit log reopened") })
	echo := exec.Command("echoscu", "-aec", "TWEEDIE", "127.0.0.1", fmt.Sprint(port))
	echo.Env = peers.Env()
	if out, err := echo.CombinedOutput(); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	waitUntil(t, 30*time.Second, "the association in the new audit log", func() bool {
		b, _ := os.ReadFile(audit)
		return strings.Contains(string(b), "association-accepted")
	})
	if b, _ := os.ReadFile(audit + ".1"); strings.Contains(string(b), "association-accepted") {
		t.Errorf("the rotated audit log got the new event")
	}
	if serve.ProcessState != nil {
		t.Fatal("serve ended on SIGHUP")
	}
}
