package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/internal/peers"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testNode struct {
	*Node
	cfg   *conf.Config
	state string
	log   *syncBuffer
	port  int
}

// config returns a configuration for tests: loopback, a fresh state
// folder, short timeouts, a folder destination, no metrics listener.
func testConfig(t *testing.T, yamlText string, runners ...map[string]Runner) *conf.Config {
	t.Helper()
	state := t.TempDir()
	base := fmt.Sprintf("node:\n  listen: 127.0.0.1:0\n  state_dir: %s\nseries:\n  timeout: 500ms\nhttp:\n  listen: \"\"\n"+
		"spool:\n  min_free: 0\njobs:\n  ack_wait: 5s\n  retry_delay: 100ms\ndispatch:\n  backoff_initial: 50ms\n  backoff_max: 200ms\n", state)
	var extra map[string]Runner
	if len(runners) > 0 {
		extra = runners[0]
	}
	if c, err := conf.Parse([]byte(mergeYAML(base, yamlText)), "test.yaml"); err == nil && c.RoutingDefault {
		// Without a routing section of its own a test node forwards every
		// series to every destination (not the embedded reconstruction
		// routing, which needs the reconstructors).
		var names []string
		for _, d := range c.EffectiveDestinations() {
			names = append(names, d.Name)
		}
		yamlText += fmt.Sprintf("routing:\n  fallback:\n    - forward: {destinations: [%s]}\n", strings.Join(names, ", "))
	}
	c, err := conf.Parse([]byte(mergeYAML(base, yamlText)), "test.yaml", ConfigCheck(Runners(extra)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mergeYAML lets a test override whole top-level sections of base.
func mergeYAML(base, over string) string {
	if over == "" {
		return base
	}
	sections := map[string]bool{}
	for _, l := range strings.Split(over, "\n") {
		if l != "" && l[0] != ' ' && l[0] != '#' && strings.Contains(l, ":") {
			sections[l[:strings.Index(l, ":")]] = true
		}
	}
	var out []string
	skip := false
	for _, l := range strings.Split(base, "\n") {
		if l != "" && l[0] != ' ' {
			skip = sections[l[:strings.Index(l, ":")]]
		}
		if !skip {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n" + over
}

func startNode(t *testing.T, c *conf.Config, runners map[string]Runner) *testNode {
	t.Helper()
	buf := &syncBuffer{}
	n, err := New(Options{Config: c, Log: zerolog.New(buf).With().Timestamp().Logger(), Runners: Runners(runners), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, cfg: c, state: c.Node.StateDir, log: buf}
	if a := n.Addr(); a != nil {
		fmt.Sscanf(a.String()[strings.LastIndex(a.String(), ":")+1:], "%d", &tn.port)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			tn.stop(t)
		}
		if t.Failed() {
			t.Logf("node log:\n%s", tail(buf.String(), 6000))
		}
	})
	_ = stopped
	return tn
}

func (tn *testNode) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = tn.Shutdown(ctx)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// storescu sends files with DCMTK's storescu and returns its output.
func storescu(t *testing.T, port int, files ...string) (string, error) {
	t.Helper()
	peers.Need(t, "storescu")
	args := append([]string{"-v", "-aec", "TWEEDIE", "-aet", "SCANNER", "127.0.0.1", fmt.Sprint(port)}, files...)
	cmd := exec.Command("storescu", args...)
	cmd.Env = peers.Env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeSeries writes n synthetic MR images of one series.
func writeSeries(t *testing.T, dir, study, series string, n, size int) []string {
	t.Helper()
	var out []string
	for i := 1; i <= n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%s-%03d.dcm", series, i))
		if err := peers.WriteMR(p, study, series, fmt.Sprintf("%s.%d", series, i), i, size, size); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func countFiles(dir, pattern string) int {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return len(m)
}

// auditEvents reads the audit log's events of one kind.
func auditEvents(t *testing.T, path, event string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == event {
			out = append(out, m)
		}
	}
	return out
}
