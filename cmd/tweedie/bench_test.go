package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// Benchmarks of the receiving node. Run them with
//
//	go test ./cmd/tweedie -run '^$' -bench Ingest -benchtime 5x
//	go test ./cmd/tweedie -run '^$' -bench Receive1GB -benchtime 1x
//
// Each iteration runs every receiver once, side by side, so the ratios are
// taken on the same machine state; docs/benchmarks.md records the results.

var (
	mrMu      sync.Mutex
	mrStudies = map[int]string{}
)

// mrStudy writes n synthetic 256×256 16-bit MR images (about 131 KB each)
// once per test binary.
func mrStudy(b *testing.B, n int) string {
	mrMu.Lock()
	defer mrMu.Unlock()
	if d, ok := mrStudies[n]; ok {
		return d
	}
	dir, err := os.MkdirTemp("", "tweedie-bench-mr")
	for i := 1; i <= n && err == nil; i++ {
		err = peers.WriteMR(filepath.Join(dir, fmt.Sprintf("img%04d.dcm", i)), "2.25.1001", "2.25.1001.1",
			fmt.Sprintf("2.25.1001.1.%d", i), i, 256, 256)
	}
	if err != nil {
		b.Fatal(err)
	}
	mrStudies[n] = dir
	return dir
}

// receiver starts a receiving node on a free port; stop ends it and returns
// its peak resident memory in bytes.
type receiver struct {
	name  string
	start func(b *testing.B, dir string) (port int, ae string, stop func() int64)
}

func startProc(b *testing.B, name string, args ...string) (*exec.Cmd, func() int64) {
	cmd := exec.Command(name, args...)
	cmd.Env = peers.Env()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd, func() int64 {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			return ru.Maxrss * 1024
		}
		return 0
	}
}

func storescpReceiver() receiver {
	return receiver{"storescp", func(b *testing.B, dir string) (int, string, func() int64) {
		port := peers.FreePort(b)
		_, stop := startProc(b, "storescp", "-aet", "STORESCP", "-od", dir, "-uf", fmt.Sprint(port))
		peers.WaitPort(b, port, 10*time.Second)
		return port, "STORESCP", stop
	}}
}

func tweedieReceiver(name string, fsync bool) receiver {
	return receiver{name, func(b *testing.B, dir string) (int, string, func() int64) {
		port := peers.FreePort(b)
		cfg := filepath.Join(b.TempDir(), "bench.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("node:\n  fsync: %v\nlog:\n  level: warn\nhttp:\n  listen: \"\"\nspool:\n  min_free: 0\n", fsync)), 0o600)
		_, stop := startProc(b, binary, "serve", "--config", cfg, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state", dir)
		peers.WaitPort(b, port, 10*time.Second)
		return port, "TWEEDIE", stop
	}}
}

// BenchmarkIngest: one study of 500 instances (65 MB, within the spool
// journal's spare segments) from storescu and from tweedie send.
func BenchmarkIngest(b *testing.B) { benchIngest(b, 500, []string{"storescu", "tweedie-send"}) }

// BenchmarkIngestSustained: 2500 instances (328 MB, 2.5 times the
// journal's spare segments) from storescu: the spool files are written and
// checkpointed while instances still arrive.
func BenchmarkIngestSustained(b *testing.B) { benchIngest(b, 2500, []string{"storescu"}) }

func benchIngest(b *testing.B, n int, senderNames []string) {
	peers.Need(b, "storescu", "storescp")
	src := mrStudy(b, n)
	receivers := []receiver{storescpReceiver(), tweedieReceiver("tweedie", false), tweedieReceiver("tweedie-fsync", true)}
	senders := map[string]func(ae string, port int) *exec.Cmd{
		"storescu": func(ae string, port int) *exec.Cmd {
			c := exec.Command("storescu", "-aec", ae, "+sd", "127.0.0.1", fmt.Sprint(port), src)
			c.Env = peers.Env()
			return c
		},
		"tweedie-send": func(ae string, port int) *exec.Cmd {
			return exec.Command(binary, "send", fmt.Sprintf("%s@127.0.0.1:%d", ae, port), src)
		},
	}
	elapsed := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, sname := range senderNames {
			// Alternate the order each round: on a shared machine whoever
			// runs first or last must not always be the same receiver.
			order := receivers
			if i%2 == 1 {
				order = []receiver{receivers[2], receivers[1], receivers[0]}
			}
			for _, r := range order {
				dir := b.TempDir()
				port, ae, stop := r.start(b, dir)
				cmd := senders[sname](ae, port)
				t0 := time.Now()
				out, err := cmd.CombinedOutput()
				d := time.Since(t0)
				stop()
				if err != nil {
					b.Fatalf("%s → %s: %v\n%s", sname, r.name, err, out)
				}
				files, _ := filepath.Glob(filepath.Join(dir, "*"))
				if r.name != "storescp" {
					// The spool: STATE/spool/<study>/<series>/<instance>.dcm
					// (the series stays open: its timeout is 30 s).
					files, _ = filepath.Glob(filepath.Join(dir, "spool", "*", "*", "*.dcm"))
				}
				if len(files) != n {
					b.Fatalf("%s → %s stored %d files, want %d", sname, r.name, len(files), n)
				}
				elapsed[sname+"→"+r.name] += d
			}
		}
	}
	b.StopTimer()
	rate := func(k string) float64 { return float64(n*b.N) / elapsed[k].Seconds() }
	for _, s := range senderNames {
		for _, r := range receivers {
			b.ReportMetric(rate(s+"→"+r.name), fmt.Sprintf("files/s_%s→%s", s, r.name))
		}
		b.ReportMetric(rate(s+"→tweedie")/rate(s+"→storescp"), "ratio_tweedie/storescp_from_"+s)
		b.ReportMetric(rate(s+"→tweedie-fsync")/rate(s+"→storescp"), "ratio_tweedie-fsync/storescp_from_"+s)
	}
}

// BenchmarkReceive1GB sends one 1 GiB Raw Data object with tweedie send into
// tweedie serve (fsync on) and reports both processes' peak resident memory.
func BenchmarkReceive1GB(b *testing.B) {
	tmp := b.TempDir()
	big := filepath.Join(tmp, "big.dcm")
	if err := peers.WriteBigRawData(big, "2.25.4242", 1<<30); err != nil {
		b.Fatal(err)
	}
	var serveRSS, sendRSS int64
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		port, ae, stop := tweedieReceiver("tweedie", true).start(b, dir)
		cmd := exec.Command(binary, "send", fmt.Sprintf("%s@127.0.0.1:%d", ae, port), big)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		total += time.Since(t0)
		rss := stop()
		if err != nil {
			b.Fatalf("send: %v\n%s", err, out)
		}
		st, err := os.Stat(received(dir, "2.25.4242"))
		if err != nil || st.Size() < 1<<30 {
			b.Fatalf("received: %v %v", st, err)
		}
		serveRSS = max(serveRSS, rss)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			sendRSS = max(sendRSS, ru.Maxrss*1024)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(serveRSS)/(1<<20), "MiB_peak_RSS_serve")
	b.ReportMetric(float64(sendRSS)/(1<<20), "MiB_peak_RSS_send")
	b.ReportMetric(float64(b.N)*1024/total.Seconds(), "MiB/s")
}
