package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
	"github.com/tweedie-recon/tweedie/rawdata/mrd/stream"
)

// mrdSession streams an MRD file to addr as python-ismrmrd-server's
// client.py does (config name, XML header, a JSON text, the acquisitions,
// CLOSE) and returns what the server sent back until it closed.
func mrdSession(t *testing.T, addr string, f *mrd.File, config string) []*stream.Message {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(4 * time.Minute))
	werr := make(chan error, 1)
	go func() {
		e := stream.NewEncoder(c)
		err := e.WriteConfigFile(config)
		if err == nil {
			err = e.WriteHeader(f.Header.Raw)
		}
		if err == nil {
			err = e.WriteText(`{"parameters": {}}`)
		}
		for i := 0; i < f.Len() && err == nil; i++ {
			var h mrd.AcquisitionHeader
			var data []complex64
			if h, err = f.Head(i); err == nil {
				if data, err = f.Data(i, nil); err == nil {
					err = e.WriteAcquisition(&mrd.Acquisition{Head: h, Data: data, Traj: make([]float32, int(h.NumberOfSamples)*int(h.TrajectoryDimensions))})
				}
			}
		}
		if err == nil {
			err = e.WriteClose()
		}
		werr <- err
	}()
	var out []*stream.Message
	d := stream.NewDecoder(c, stream.Limits{})
	for {
		m, err := d.Next()
		if err != nil {
			if err != io.EOF {
				t.Errorf("reading the replies: %v", err)
			}
			break
		}
		out = append(out, m)
	}
	// A refused session may close before the client has sent everything.
	<-werr
	return out
}

// TestServeMRD: `tweedie serve` with mrd.listen. A client streams the
// generator's phantom (64², 4 coils, readout oversampling 2, a noise scan)
// with config l1-wavelet: the acquisitions go in as raw-data objects
// through the spool (calling AE "MRD"), the series is routed by the
// session's config to a l1-wavelet job in serve's worker process, the
// derived images come back as MRD float images that correlate with the
// phantom (≥ 0.98, the transposed image below that), and the same derived
// series lands in Orthanc (mrd.destinations). An unknown config gets an
// ERROR text and CLOSE; a client sending garbage is dropped and the node
// still accepts a C-STORE afterwards and another MRD session. Each session
// leaves its audit events.
func TestServeMRD(t *testing.T) {
	peers.Need(t, "storescu", "Orthanc", peers.MRDGenerator)
	o := peers.StartOrthanc(t, nil)
	port, mport := peers.FreePort(t), peers.FreePort(t)
	state := t.TempDir()
	cfg := mrdServeConfig(t, o, port, mport, state)
	if out, code := run(t, "config", "check", cfg); code != 0 || !strings.Contains(out, fmt.Sprintf("mrd: listening on 127.0.0.1:%d; clients from 127.0.0.0/8, ::1; derived series to pacs", mport)) {
		t.Errorf("config check: exit %d\n%s", code, out)
	}
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	peers.WaitPort(t, mport, 20*time.Second)
	maddr := fmt.Sprintf("127.0.0.1:%d", mport)

	gen := peers.MRDPhantom(t, "-m", "64", "-c", "4", "-O", "2", "-n", "0.01", "-C")
	f, err := mrd.Open(gen, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, n := peers.MRDTruth(t, f)

	// An unknown config: ERROR and CLOSE.
	replies := mrdSession(t, maddr, f, "no-such-recon")
	if len(replies) != 2 || replies[0].ID != stream.IDText || !strings.HasPrefix(replies[0].Text, `ERROR config "no-such-recon": unknown: not a reconstructor`) || replies[1].ID != stream.IDClose {
		t.Errorf("unknown config: %d replies %+v", len(replies), replies)
	}

	// Garbage: the node drops the client and keeps serving.
	if c, err := net.Dial("tcp", maddr); err == nil {
		c.Write([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfcgarbage that is no MRD message at all"))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
		c.Close()
	}
	dir := t.TempDir()
	study := writeStudy(t, dir, "2.25.700", 1, 1, 16)
	if out, err := storescuCmd(port, allFiles(study)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu after an MRD client sent garbage: %v\n%s", err, out)
	}

	// The phantom through the node, reconstructed by l1-wavelet.
	t0 := time.Now()
	replies = mrdSession(t, maddr, f, "l1-wavelet")
	t.Logf("l1-wavelet session: %d replies in %s", len(replies), time.Since(t0).Round(time.Millisecond))
	if len(replies) != 2 || replies[0].ID != stream.IDImage || replies[1].ID != stream.IDClose {
		for _, m := range replies {
			if m.ID == stream.IDText {
				t.Logf("text: %s", m.Text)
			}
		}
		t.Fatalf("l1-wavelet: %d replies, want an image and CLOSE\n%s", len(replies), logs.String())
	}
	im := replies[0].Image
	if im.Head.MatrixSize != [3]uint16{uint16(n), uint16(n), 1} || im.Head.DataType != stream.Float || im.Head.ImageType != stream.Magnitude {
		t.Fatalf("image %v of %v", im.Head.MatrixSize, im.Head.DataType)
	}
	pix, err := im.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	tr := make([]float32, len(pix))
	for x := 0; x < n; x++ {
		for y := 0; y < n; y++ {
			tr[x*n+y] = pix[y*n+x]
		}
	}
	r, rt := peers.Correlation(ref, pix), peers.Correlation(ref, tr)
	t.Logf("l1-wavelet image: correlation %.4f with |phantom|·‖csm‖ (transposed %.4f)", r, rt)
	if r < 0.98 || rt >= 0.98 {
		t.Errorf("correlation %.4f (transposed %.4f), want ≥ 0.98 (and the transposed below)", r, rt)
	}
	waitUntil(t, 60*time.Second, "the derived series in Orthanc", func() bool { return orthancInstances(t, o) >= 1 })
	// (the outbox writes its event after the association, which Orthanc may show the instance before)
	waitUntil(t, 10*time.Second, "the instances-transferred event", func() bool {
		return strings.Contains(readFile(filepath.Join(state, "audit.log")), `"event":"instances-transferred"`)
	})

	// (each session's event is written once its connection is closed)
	waitUntil(t, 10*time.Second, "four mrd-session-ended events (WaitPort's empty connection, unknown config, garbage, l1-wavelet)", func() bool {
		return strings.Count(readFile(filepath.Join(state, "audit.log")), `"event":"mrd-session-ended"`) >= 4
	})
	audit := readFile(filepath.Join(state, "audit.log"))
	for _, ev := range []string{`"event":"mrd-session-started"`, `"event":"mrd-session-ended"`, `"source_ae":"MRD"`,
		`"rules_matched":["mrd:l1-wavelet"]`, `"event":"job-finished"`, `"event":"instances-transferred"`, `"error_sent":"ERROR config \"no-such-recon\": unknown`} {
		if !strings.Contains(audit, ev) {
			t.Errorf("audit stream lacks %s", ev)
		}
	}
	if c := strings.Count(audit, `"event":"mrd-session-ended"`); c != 4 {
		t.Errorf("%d mrd-session-ended events, want 4 (WaitPort's empty connection, unknown config, garbage, l1-wavelet)", c)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("a panic in the log:\n%s", logs.String())
	}
}

// mrdServeConfig writes the configuration of the MRD serve tests: DICOM on
// port, MRD on mport, Orthanc o as the one destination and as
// mrd.destinations, nothing else routed. The outbox's idle poll is ten
// minutes: a derived image reaches Orthanc within a test only because the
// job's outcome wakes the outbox that the worker process wrote into.
func mrdServeConfig(t *testing.T, o *peers.Orthanc, port, mport int, state string) string {
	return writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
series:
  timeout: 500ms
http:
  listen: ""
destinations:
  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}
dispatch: {backoff_initial: 1m, backoff_max: 1m}
mrd:
  listen: 127.0.0.1:%d
  destinations: [pacs]
  timeout: 4m
routing:
  rules: []
  fallback: [{discard: {}}]
`, port, state, o.DICOMPort, mport))
}
