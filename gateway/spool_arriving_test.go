package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
)

// slowReader hands out the first fast bytes at once, then chunk bytes
// every pause.
type slowReader struct {
	r     io.Reader
	fast  int
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.fast > 0 {
		n, err := s.r.Read(p[:min(len(p), s.fast)])
		s.fast -= n
		return n, err
	}
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// TestSeriesHeldWhileInstanceArrives: a series does not complete on its
// timeout while an instance of it is still in transfer. A real
// association sends a large instance slowly, over many times the series
// timeout (500 ms), after a first instance of the series arrived: the
// series completes once, after the slow instance ended, with both
// instances in generation 1 (before, the timer ran out mid-transfer, the
// first instance went alone, and the slow one opened a generation 2).
func TestSeriesHeldWhileInstanceArrives(t *testing.T) {
	c := testConfig(t, "node:\n  listen: 127.0.0.1:0\n  state_dir: "+t.TempDir()+"\n  max_pdu: 4096\n")
	tn := startNode(t, c, nil)
	dir := t.TempDir()
	const study, series = "2.25.7301", "2.25.7302"
	files := writeSeries(t, dir, study, series, 2, 256) // 128 KiB of pixels each
	if out, err := storescu(t, tn.port, files[0]); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	fi, err := dimse.ReadFileInfo(files[1])
	if err != nil {
		t.Fatal(err)
	}
	cl := &dimse.Client{CallingAE: "SLOW", DIMSETimeout: time.Minute, ARTIM: 30 * time.Second}
	a, err := cl.Associate(context.Background(), fmt.Sprintf("127.0.0.1:%d", tn.port), "TWEEDIE",
		[]dimse.ProposedContext{{AbstractSyntax: fi.SOPClassUID, TransferSyntaxes: []string{fi.TransferSyntaxUID}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	f, err := os.Open(files[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if _, err := part10.ReadMeta(br); err != nil {
		t.Fatal(err)
	}
	// 16 KiB at once (the header and then some), then 4 KiB every 100 ms:
	// about 3 s, six series timeouts.
	sr := &slowReader{r: br, fast: 16 << 10, chunk: 4 << 10, pause: 100 * time.Millisecond}
	type result struct {
		st  uint16
		err error
	}
	done := make(chan result, 1)
	t0 := time.Now()
	go func() {
		st, err := a.Store(fi.SOPClassUID, fi.SOPInstanceUID, fi.TransferSyntaxUID, sr)
		done <- result{st, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow store did not end")
	}
	took := time.Since(t0)
	if r.err != nil || r.st != 0 {
		t.Fatalf("slow store: status %#x, %v", r.st, r.err)
	}
	if took < 4*time.Duration(c.Series.Timeout) {
		t.Fatalf("the store took %s, not long enough to span the series timeout", took)
	}
	if l := tn.log.String(); strings.Contains(l, "series complete") {
		t.Fatalf("the series completed while an instance of it was in transfer:\n%s", tail(l, 3000))
	}
	waitFor(t, time.Minute, "the series completed", func() bool {
		return strings.Contains(tn.log.String(), series+"-g1") && strings.Contains(tn.log.String(), "series complete")
	})
	time.Sleep(2 * time.Duration(c.Series.Timeout))
	if l := tn.log.String(); strings.Contains(l, series+"-g2") {
		t.Errorf("the slow instance opened a second generation:\n%s", tail(l, 3000))
	}
	if got := countFiles(filepath.Join(tn.state, "outgoing"), "*.dcm"); got != 2 {
		waitFor(t, 30*time.Second, "both instances forwarded", func() bool { return countFiles(filepath.Join(tn.state, "outgoing"), "*.dcm") == 2 })
	}
}
