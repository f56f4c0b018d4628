package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tweedie-recon/tweedie/conf"
)

// TestLogConsoleNotTerminal: redirected console output (a file, a pipe,
// journald) has no colour codes, and durations carry their unit.
func TestLogConsoleNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(conf.LogConfig{Level: "info", Format: "console"}, &buf)
	log.Info().Dur("took", 17700*time.Millisecond).Msg("job finished")
	out := buf.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes in redirected output: %q", out)
	}
	if !strings.Contains(out, "took=17.7s") {
		t.Errorf("want took=17.7s in %q", out)
	}

	// A regular file, as with `tweedie serve 2>serve.log`.
	f, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flog := newLogger(conf.LogConfig{Level: "info", Format: "console"}, f)
	flog.Warn().Msg("into a file")
	b, _ := os.ReadFile(f.Name())
	if strings.Contains(string(b), "\x1b[") || !strings.Contains(string(b), "into a file") {
		t.Errorf("log file: %q", b)
	}
}

// TestLogConsoleTerminal: on a terminal (a real pseudo-terminal) the
// console format is coloured.
func TestLogConsoleTerminal(t *testing.T) {
	ptmx, tty := openPTY(t)
	defer ptmx.Close()
	defer tty.Close()
	if !isTerminal(tty) {
		t.Fatal("a pseudo-terminal is not a terminal")
	}
	tlog := newLogger(conf.LogConfig{Level: "info", Format: "console"}, tty)
	tlog.Info().Msg("hello")
	buf := make([]byte, 4096)
	ptmx.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ptmx.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if out := string(buf[:n]); !strings.Contains(out, "\x1b[") || !strings.Contains(out, "hello") {
		t.Errorf("no colour on a terminal: %q", out)
	}
}

// TestLogJSON: log.format json from a configuration file writes one JSON
// object per line (for journald), with durations as strings with units.
func TestLogJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tweedie.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: debug\n  format: json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ptmx, tty := openPTY(t) // JSON stays JSON on a terminal too
	defer ptmx.Close()
	defer tty.Close()
	var buf bytes.Buffer
	for _, w := range []interface{ Write([]byte) (int, error) }{&buf, tty} {
		log := newLogger(c.Log, w)
		log.Debug().Dur("took", 1500*time.Millisecond).Str("series", "1.2.3").Msg("series routed")
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON object: %v: %q", err, buf.String())
	}
	if rec["took"] != "1.5s" || rec["level"] != "debug" || rec["message"] != "series routed" || rec["time"] == nil {
		t.Errorf("record %v", rec)
	}
	b := make([]byte, 4096)
	ptmx.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ptmx.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b[:n]), "\x1b[") || !strings.HasPrefix(string(b[:n]), "{") {
		t.Errorf("json on a terminal: %q", b[:n])
	}
}

// openPTY opens a pseudo-terminal pair (/dev/ptmx, then its /dev/pts/N).
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/pts/%d: %v", n, err)
	}
	return ptmx, tty
}
