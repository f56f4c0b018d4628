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

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/internal/peers"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tweedie-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tweedie")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tweedie: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	for _, d := range mrStudies { // the benchmarks' studies
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// serve starts `tweedie serve` on a free loopback port and returns the port
// and the state folder.
func serve(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	port := peers.FreePort(t)
	state := t.TempDir()
	args := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state", state}, extra...)
	cmd := peers.Start(t, binary, args...)
	peers.WaitPort(t, port, 10*time.Second)
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	return port, state
}

// received finds a received instance wherever the gateway holds it: in the
// spool while its series is open, in a batch while it is processed, or in
// the default folder destination once forwarded. An instance acknowledged
// through the spool's journal reaches its spool file shortly after the
// C-STORE (once the sender pauses), so it waits up to 10 s.
func received(state, sop string) string {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, pattern := range []string{"spool/*/*/" + sop + ".dcm", "batches/*/" + sop + ".dcm", "outgoing/" + sop + ".dcm"} {
			if m, _ := filepath.Glob(filepath.Join(state, pattern)); len(m) > 0 {
				return m[0]
			}
		}
	}
	return filepath.Join(state, "outgoing", sop+".dcm")
}

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestSendEveryFileIntoServe: every file under ../shared/data/dicom goes
// through `tweedie send` into `tweedie serve` and arrives intact.
func TestSendEveryFileIntoServe(t *testing.T) {
	port, state := serve(t)
	dest := fmt.Sprintf("TWEEDIE@127.0.0.1:%d", port)
	if out, code := run(t, "echo", dest); code != 0 || !strings.Contains(out, "Success") {
		t.Fatalf("echo: %d %s", code, out)
	}
	for _, f := range peers.DICOMFiles(t) {
		out, code := run(t, "send", dest, f)
		if code != 0 || !strings.Contains(out, "0x0000 Success") {
			t.Errorf("send %s: exit %d\n%s", f, code, out)
			continue
		}
		fi, err := dimse.ReadFileInfo(f)
		if err != nil {
			t.Fatal(err)
		}
		// Several files share a SOP Instance UID: each replaces the one
		// before in the spool (spool.duplicates: replace), once the
		// spool file is written from the journal.
		var problem string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got := received(state, fi.SOPInstanceUID)
			gi, err := dimse.ReadFileInfo(got)
			switch {
			case err != nil:
				problem = fmt.Sprintf("not received: %v", err)
			case gi.TransferSyntaxUID != fi.TransferSyntaxUID || gi.SOPClassUID != fi.SOPClassUID:
				problem = fmt.Sprintf("received as %+v", gi)
			default:
				problem = peers.DiffDumps(peers.Dump(t, f), peers.Dump(t, got))
				if problem != "" {
					problem = "received differs: " + problem
				}
			}
			if problem == "" || time.Now().After(deadline) {
				break
			}
		}
		if problem != "" {
			t.Errorf("%s: %s", filepath.Base(f), problem)
		}
	}
}

func TestSendFolderSummaryAndFailures(t *testing.T) {
	port, _ := serve(t)
	data := filepath.Join(peers.SharedData(t), "dicom")
	out, code := run(t, "send", fmt.Sprintf("TWEEDIE@127.0.0.1:%d", port), data)
	if code != 0 {
		t.Fatalf("send folder: exit %d\n%s", code, out)
	}
	n := len(peers.DICOMFiles(t))
	if !strings.Contains(out, fmt.Sprintf("0x0000 Success %s %d", strings.Repeat(" ", 50-len("0x0000 Success")-1), n)) {
		t.Errorf("summary does not count %d successes:\n%s", n, out)
	}
	if !strings.Contains(out, "skipped: not DICOM Part 10") {
		t.Errorf("summary does not mention the skipped licence files:\n%s", out)
	}
	// A wrong called AE title: the association is rejected, exit status 1.
	out, code = run(t, "send", fmt.Sprintf("WRONG@127.0.0.1:%d", port), data)
	if code != 1 || !strings.Contains(out, "called AE title not recognized") {
		t.Errorf("send to wrong AE: exit %d\n%s", code, out)
	}
	// A named file that is not DICOM is a failure.
	bad := filepath.Join(t.TempDir(), "x.dcm")
	os.WriteFile(bad, []byte("not dicom"), 0o600)
	if out, code = run(t, "send", fmt.Sprintf("TWEEDIE@127.0.0.1:%d", port), bad); code != 1 {
		t.Errorf("send of a non-DICOM file: exit %d\n%s", code, out)
	}
	if out, code = run(t, "echo", fmt.Sprintf("TWEEDIE@127.0.0.1:%d", peers.FreePort(t))); code != 1 {
		t.Errorf("echo to a closed port: exit %d\n%s", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("node:\n  ae_title: RECON\n  listen: 127.0.0.1:104\n"), 0o600)
	if out, code := run(t, "config", "check", good); code != 0 {
		t.Errorf("good config: %d %s", code, out)
	} else if !strings.Contains(out, "routing (embedded") || !strings.Contains(out, "mr-kspace") || !strings.Contains(out, "reconstructor: mbir, destinations: [folder]") {
		// without a routing section: the routing serve runs, printed
		t.Errorf("config check does not print the embedded routing:\n%s", out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("node:\n  ae_title: A_VERY_LONG_AE_TITLE_X\n  max_associations: 0\n  colour: blue\n"), 0o600)
	out, code := run(t, "config", "check", bad)
	if code != 1 || !strings.Contains(out, "line 4") || !strings.Contains(out, "colour") {
		t.Errorf("unknown key not reported with its line: %s", out)
	}
	bad2 := filepath.Join(dir, "bad2.yaml")
	os.WriteFile(bad2, []byte("node:\n  ae_title: A_VERY_LONG_AE_TITLE_X\n  max_associations: 0\n"), 0o600)
	out, code = run(t, "config", "check", bad2)
	if code != 1 || !strings.Contains(out, "line 2") || !strings.Contains(out, "line 3") {
		t.Errorf("both problems not reported with lines: %s", out)
	}
}
