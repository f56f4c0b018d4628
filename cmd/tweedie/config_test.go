package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigCheckReconstructorParams: a misspelt reconstructor parameter
// in a rule is a configuration error at its line, from config check and
// from serve, which refuses to start; the corrected file and the embedded
// default routing pass.
func TestConfigCheckReconstructorParams(t *testing.T) {
	const cfg = `node:
  ae_title: RECON
routing:
  rules:
    - name: mr
      match: {Modality: {equals: MR}}
      actions:
        - reconstruct:
            reconstructor: dds
            params:
              eta: 0.9
              nfee: 50
            destinations: [folder]
  fallback:
    - reconstruct: {reconstructor: sirt, params: {iters: 0x}, destinations: [folder]}
`
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(cfg), 0o600)
	out, code := run(t, "config", "check", bad)
	if code != 1 || !strings.Contains(out, bad+`: line 12:15: routing: parameter "nfee": not a parameter of dds; did you mean nfe?`) ||
		!strings.Contains(out, bad+`: line 15:51: routing: parameter "iters": iters="0x" is not an integer`) || strings.Count(out, "\n") != 2 {
		t.Errorf("config check: exit %d\n%s", code, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := exec.CommandContext(ctx, binary, "serve", "--config", bad, "--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "state")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(srv), "line 12:15") || !strings.Contains(string(srv), "nfee") {
		t.Errorf("serve with a misspelt parameter: %v\n%s", err, srv)
	}

	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(strings.NewReplacer("nfee", "nfe", "0x", "10").Replace(cfg)), 0o600)
	if out, code := run(t, "config", "check", good); code != 0 || !strings.Contains(out, "nfe: 50") {
		t.Errorf("corrected file: exit %d\n%s", code, out)
	}
	// No routing section: the embedded default routing, whose parameters
	// are checked the same way, passes.
	plain := filepath.Join(dir, "plain.yaml")
	os.WriteFile(plain, []byte("node:\n  ae_title: RECON\n"), 0o600)
	if out, code := run(t, "config", "check", plain); code != 0 || !strings.Contains(out, "routing (embedded") {
		t.Errorf("embedded routing: exit %d\n%s", code, out)
	}
}
