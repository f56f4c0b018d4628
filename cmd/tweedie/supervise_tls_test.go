package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// TestChildWorkersTLSQueue: with a TLS nats.listen (a private CA, a
// certificate naming only "localhost", user and password) serve starts on
// the default jobs.isolation (process) and its worker processes, reaching
// the listener at 127.0.0.1, trust exactly serve's certificate and do the
// jobs; with nats.tls.ca (mutual TLS) they present serve's certificate.
// Before, serve refused to start ("not supported yet").
func TestChildWorkersTLSQueue(t *testing.T) {
	peers.Need(t, "storescu")
	secrets := t.TempDir()
	ca, caKey, caPath, _ := issue(t, secrets, "queue-ca", true, nil, nil)
	_, _, cert, key := issue(t, secrets, "tweedie-node", false, ca, caKey)
	pw := filepath.Join(secrets, "password")
	if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("mutual=%v", mutual), func(t *testing.T) {
			port, natsPort := peers.FreePort(t), peers.FreePort(t)
			out, state := t.TempDir(), t.TempDir()
			caLine := ""
			if mutual {
				caLine = "    ca: " + caPath + "\n"
			}
			cfg := writeConfig(t, fmt.Sprintf("node:\n  listen: 127.0.0.1:%d\n  state_dir: %s\nseries:\n  timeout: 300ms\nspool:\n  min_free: 0\nhttp:\n  listen: \"\"\n"+
				"nats:\n  listen: 127.0.0.1:%d\n  user: tweedie\n  password_file: %s\n  tls:\n    cert: %s\n    key: %s\n%s"+
				"destinations:\n  - {name: results, type: folder, path: %s}\n"+
				"routing:\n  fallback: [{reconstruct: {reconstructor: identity, destinations: [results]}}]\n",
				port, state, natsPort, pw, cert, key, caLine, out))
			var logs lockedBuffer
			serve := startServe(t, cfg, port, &logs)
			t.Cleanup(func() {
				serve.Process.Signal(syscall.SIGTERM)
				serve.Wait()
				if t.Failed() {
					t.Logf("serve log:\n%s", tailStr(logs.String(), 6000))
				}
			})
			study := writeStudy(t, t.TempDir(), "2.25.8800", 1, 2, 16)
			if o, err := storescuCmd(port, allFiles(study)...).CombinedOutput(); err != nil {
				t.Fatalf("storescu: %v\n%s", err, o)
			}
			waitUntil(t, 120*time.Second, "the outputs of the worker process", func() bool {
				m, _ := filepath.Glob(filepath.Join(out, "*.dcm"))
				return len(m) == 2
			})
			if l := logs.String(); !strings.Contains(l, "worker process started") || !strings.Contains(l, "process=worker-0") {
				t.Errorf("the job did not run in a worker process")
			}
		})
	}
}
