package scu

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

func TestParseDestination(t *testing.T) {
	for _, c := range []struct{ in, ae, addr, err string }{
		{"PACS@pacs.example.org:104", "PACS", "pacs.example.org:104", ""},
		{"A@B@[::1]:4242", "A@B", "[::1]:4242", ""},
		{"TWEEDIE@:11112", "TWEEDIE", "localhost:11112", ""},
		{"pacs:104", "", "", "want CALLED_AE@HOST:PORT"},
		{"@pacs:104", "", "", "want CALLED_AE@HOST:PORT"},
		{"PACS@pacs", "", "", "missing :PORT"},
		{"PACS@pacs:0", "", "", "not 1 … 65535"},
		{"PACS@pacs:http", "", "", "not 1 … 65535"},
	} {
		ae, addr, err := ParseDestination(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || ae != c.ae || addr != c.addr {
			t.Errorf("%q: %q %q %v, want %q %q", c.in, ae, addr, err, c.ae, c.addr)
		}
	}
}

// startSCP runs a storage SCP called TWEEDIE that files what it receives
// in a folder.
func startSCP(t *testing.T) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	s := dimse.NewServer(dimse.ServerConfig{Policy: dimse.Policy{AETitle: "TWEEDIE", RequireCalledAE: true, AcceptAnyStorage: true},
		Store: &dimse.FileStore{Dir: dir}, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, dimse.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String(), dir
}

// writePart10 writes a Part 10 file of the Raw Data SOP class whose data
// set is one Patient ID element.
func writePart10(t *testing.T, path, sop string) {
	t.Helper()
	var b bytes.Buffer
	if err := part10.WriteMeta(&b, part10.Meta{MediaStorageSOPClassUID: dimse.RawDataStorage, MediaStorageSOPInstanceUID: sop,
		TransferSyntaxUID: part10.ExplicitVRLittleEndian, ImplementationClassUID: dimse.ImplementationClassUID}); err != nil {
		t.Fatal(err)
	}
	b.Write(part10.AppendHeader(nil, part10.NewTag(0x0010, 0x0020), "LO", 4))
	b.WriteString("PID1")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEchoAndSend: C-ECHO answers Success; a folder's Part 10 files are
// stored and its other files skipped and counted; a named file that is not
// DICOM, and every file sent to an AE title the peer does not recognise,
// are failures, with the rejection in words.
func TestEchoAndSend(t *testing.T) {
	addr, received := startSCP(t)
	c := &dimse.Client{CallingAE: "SCU", ARTIM: 5 * time.Second}
	if st, err := Echo(context.Background(), c, "TWEEDIE", addr); err != nil || st != msg.StatusSuccess {
		t.Fatalf("echo: 0x%04X %v", st, err)
	}
	src := t.TempDir()
	writePart10(t, filepath.Join(src, "a.dcm"), "1.2.3.1")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writePart10(t, filepath.Join(src, "sub", "b"), "1.2.3.2")
	notDICOM := filepath.Join(src, "LICENCE")
	os.WriteFile(notDICOM, []byte("not DICOM"), 0o644)

	var errs, out bytes.Buffer
	s := Sender{Client: c, CalledAE: "TWEEDIE", Addr: addr, Err: &errs, Out: &out, Verbose: true}
	r := s.Send(context.Background(), []string{src})
	if r.Files != 2 || r.Skipped != 1 || r.Failed != 0 || r.Counts["0x0000 Success"] != 2 {
		t.Errorf("report %+v\n%s", r, errs.String())
	}
	for _, sop := range []string{"1.2.3.1", "1.2.3.2"} {
		if _, err := os.Stat(filepath.Join(received, sop+".dcm")); err != nil {
			t.Errorf("%s not received: %v", sop, err)
		}
	}
	if n := strings.Count(out.String(), ": 0x0000 Success\n"); n != 2 {
		t.Errorf("%d lines per file stored, want 2:\n%s", n, out.String())
	}
	var summary bytes.Buffer
	r.Print(&summary, "TWEEDIE", addr)
	if !strings.Contains(summary.String(), "2 files to TWEEDIE@") || !strings.Contains(summary.String(), "skipped: not DICOM Part 10") {
		t.Errorf("summary:\n%s", summary.String())
	}

	if r := s.Send(context.Background(), []string{notDICOM}); r.Failed != 1 || r.Unreadable != 1 {
		t.Errorf("a named file that is not DICOM: %+v", r)
	}

	errs.Reset()
	wrong := Sender{Client: c, CalledAE: "WRONG", Addr: addr, Err: &errs, Out: &out, Prefix: "send: "}
	if r := wrong.Send(context.Background(), []string{src}); r.Failed != 2 {
		t.Errorf("to a wrong AE title: %+v", r)
	}
	if !strings.Contains(errs.String(), "send: WRONG@") || !strings.Contains(errs.String(), "called AE title not recognized") {
		t.Errorf("rejection not in words:\n%s", errs.String())
	}
}
