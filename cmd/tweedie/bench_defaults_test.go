package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// BenchmarkIngestDefaults measures what a user's storescu sees: storescu
// (one association, 500 instances of 131 KB) into `tweedie serve` run on
// its true defaults — no configuration file, so log level info, the HTTP
// listener, the 1 GiB free-space floor, the embedded routing — started
// fresh for the round and sent to as soon as its port opens, against
// storescp and against the configuration of BenchmarkIngest (log level
// warn, no HTTP listener, no free-space floor). "tweedie-defaults-settled"
// waits 3 s after the port opens before sending, to show whether anything
// started in the background (the journal's spare segments) is still being
// made when the first association arrives.
//
//	go test ./cmd/tweedie -run '^$' -bench 'IngestDefaults$' -benchtime 6x -v
//
// Each round runs every receiver once, in an order that rotates from round
// to round; the per-round ratios are logged (-v shows them, the benchmark
// framework's first round of one iteration among them), and the median,
// lowest and highest ratio of the counted rounds are reported. The spool
// metric tweedie_spool_durable_total{method} (read from /metrics before the
// node stops) tells how many instances went through the journal and how
// many through the fsync fallback. With TWEEDIE_BENCH_OTHER=/path/to/tweedie
// a second binary, run on its defaults too, joins as "other-defaults" (an
// earlier commit, to compare versions interleaved).
func BenchmarkIngestDefaults(b *testing.B) {
	const n = 500
	peers.Need(b, "storescu", "storescp")
	src := mrStudy(b, n)
	type recv struct {
		name  string
		start func(dir string) (port int, ae string, stop func(), metrics string)
	}
	serveWith := func(bin string, settle time.Duration, cfg string) func(dir string) (int, string, func(), string) {
		return func(dir string) (int, string, func(), string) {
			port := peers.FreePort(b)
			args := []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state", dir}
			metrics := "http://127.0.0.1:9110/metrics"
			if cfg != "" {
				// The configuration of BenchmarkIngest, with an HTTP
				// listener on a free port for the durable counts.
				mp := peers.FreePort(b)
				metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", mp)
				f := filepath.Join(b.TempDir(), "bench.yaml")
				os.WriteFile(f, []byte(strings.ReplaceAll(cfg, "HTTP", fmt.Sprintf("127.0.0.1:%d", mp))), 0o600)
				args = append(args, "--config", f)
			}
			_, stop := startProc(b, bin, args...)
			peers.WaitPort(b, port, 20*time.Second)
			time.Sleep(settle)
			return port, "TWEEDIE", func() { stop() }, metrics
		}
	}
	benchCfg := "node:\n  fsync: true\nlog:\n  level: warn\nhttp:\n  listen: \"HTTP\"\nspool:\n  min_free: 0\n"
	receivers := []recv{
		{"storescp", func(dir string) (int, string, func(), string) {
			port, ae, stop := storescpReceiver().start(b, dir)
			return port, ae, func() { stop() }, ""
		}},
		{"tweedie-benchcfg", serveWith(binary, 0, benchCfg)},
		{"tweedie-defaults", serveWith(binary, 0, "")},
		{"tweedie-defaults-settled", serveWith(binary, 3*time.Second, "")},
		// The defaults but for node.fsync: what the flush before Success costs.
		{"tweedie-defaults-nofsync", serveWith(binary, 0, "node:\n  fsync: false\nhttp:\n  listen: \"HTTP\"\n")},
	}
	if other := os.Getenv("TWEEDIE_BENCH_OTHER"); other != "" {
		receivers = append(receivers, recv{"other-defaults", serveWith(other, 0, "")})
	}
	ratios := map[string][]float64{}
	for i := 0; i < b.N; i++ {
		k := i % len(receivers)
		order := append(slices.Clone(receivers[k:]), receivers[:k]...)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		took := map[string]time.Duration{}
		var line []string
		for _, r := range order {
			// A folder per run, removed after it (TMPDIR=/dev/shm puts
			// the runs on tmpfs, where a flush costs nothing).
			dir, err := os.MkdirTemp("", "tweedie-bench-run")
			if err != nil {
				b.Fatal(err)
			}
			port, ae, stop, metrics := r.start(dir)
			c := exec.Command("storescu", "-aec", ae, "+sd", "127.0.0.1", strconv.Itoa(port), src)
			c.Env = peers.Env()
			t0 := time.Now()
			out, err := c.CombinedOutput()
			d := time.Since(t0)
			durable := ""
			if metrics != "" {
				durable = durableCounts(metrics)
			}
			stop()
			os.RemoveAll(dir)
			if err != nil {
				b.Fatalf("storescu → %s: %v\n%s", r.name, err, out)
			}
			took[r.name] = d
			line = append(line, fmt.Sprintf("%s %.0f files/s%s", r.name, float64(n)/d.Seconds(), durable))
		}
		var rs []string
		for _, r := range receivers[1:] {
			q := took["storescp"].Seconds() / took[r.name].Seconds()
			ratios[r.name] = append(ratios[r.name], q)
			rs = append(rs, fmt.Sprintf("%s %.2f×", r.name, q))
		}
		b.Logf("round %d/%d: %s | ratio to storescp: %s", i+1, b.N, strings.Join(line, ", "), strings.Join(rs, ", "))
	}
	b.StopTimer()
	for _, r := range receivers[1:] {
		q := slices.Clone(ratios[r.name])
		slices.Sort(q)
		b.ReportMetric(q[len(q)/2], "median_ratio_"+r.name+"/storescp")
		b.ReportMetric(q[0], "min_ratio_"+r.name)
		b.ReportMetric(q[len(q)-1], "max_ratio_"+r.name)
	}
}

// durableCounts reads tweedie_spool_durable_total and
// tweedie_store_commit_seconds from a node's metrics: " [journal 500 fsync 0,
// commit 0.21 s in all, 3% over 0.9 ms]", or "" when the endpoint does not
// answer.
func durableCounts(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	counts := map[string]string{"journal": "0", "fsync": "0"}
	var sum, count, fast float64
	value := func(l string) float64 {
		v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		return v
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		for m := range counts {
			if strings.HasPrefix(l, `tweedie_spool_durable_total{method="`+m+`"}`) {
				counts[m] = l[strings.LastIndexByte(l, ' ')+1:]
			}
		}
		switch {
		case strings.HasPrefix(l, "tweedie_store_commit_seconds_sum "):
			sum = value(l)
		case strings.HasPrefix(l, "tweedie_store_commit_seconds_count "):
			count = value(l)
		case strings.HasPrefix(l, `tweedie_store_commit_seconds_bucket{le="0.0009`):
			fast = value(l)
		}
	}
	slow := 0.0
	if count > 0 {
		slow = 100 * (count - fast) / count
	}
	return fmt.Sprintf(" [journal %s fsync %s, commit %.2f s in all, %.0f%% over 0.9 ms]", counts["journal"], counts["fsync"], sum, slow)
}
