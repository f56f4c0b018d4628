package gateway

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A disk filled under the queue store makes /healthz fail (and so the
// watchdog, which uses the same Healthy), and it recovers when space
// returns. The store is on a small tmpfs of its own; without root the
// floor is set above the free space instead.
func TestHealthzQueueStoreFull(t *testing.T) {
	store := t.TempDir()
	floor := int64(2 << 20)
	mounted := false
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", store).CombinedOutput(); err == nil {
			mounted = true
			t.Cleanup(func() { _ = syscall.Unmount(store, syscall.MNT_DETACH) })
		} else {
			t.Logf("no tmpfs (%v %s): the floor goes above the free space instead", err, out)
		}
	}
	if !mounted {
		free, err := freeBytes(store)
		if err != nil {
			t.Fatal(err)
		}
		floor = free + 1<<30 // fails everywhere, the queue store among them
	}
	c := testConfig(t, fmt.Sprintf("http:\n  listen: 127.0.0.1:0\nnats:\n  store_dir: %s\nspool:\n  min_free: %d\n", filepath.Join(store, "js"), floor))
	n := startNode(t, c, nil)
	url := "http://" + n.HTTPAddr().String() + "/healthz"
	get := func() (int, string) {
		r, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	ballast := filepath.Join(store, "ballast")
	if mounted {
		if code, body := get(); code != http.StatusOK {
			t.Fatalf("healthy node: %d %s", code, body)
		}
		free, _ := freeBytes(store)
		if err := os.WriteFile(ballast, make([]byte, free-(1<<20)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var body string
	waitFor(t, 10*time.Second, "/healthz 503", func() bool {
		var code int
		code, body = get()
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "queue store") || !strings.Contains(body, "below the floor") {
		t.Errorf("body %q does not name the queue store", body)
	}
	if err := n.Healthy(); err == nil {
		t.Error("Healthy (the watchdog's check) says healthy")
	}
	if mounted {
		os.Remove(ballast)
		waitFor(t, 10*time.Second, "/healthz 200 again", func() bool { code, _ := get(); return code == http.StatusOK })
	}
}
