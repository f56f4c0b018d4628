package isolation

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
)

// TestExitDescription: a child killed by a signal is named by the signal,
// one that exits by its status.
func TestExitDescription(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"kill -SEGV $$", "killed by signal SIGSEGV (segmentation fault)"},
		{"kill -KILL $$", "killed by signal SIGKILL (killed)"},
		{"exit 2", "exit status 2"},
	} {
		cmd := exec.Command("sh", "-c", c.script)
		err := cmd.Run()
		if got := exitDescription(cmd.ProcessState, err); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.script, got, c.want)
		}
	}
	if got := exitDescription(nil, os.ErrNotExist); got != os.ErrNotExist.Error() {
		t.Errorf("not started: %q", got)
	}
}

// TestPrepare: with no workers there is nothing to supervise; with some,
// serve keeps none in process and its queue listens on loopback with a
// token only its children can read; queue credentials without a queue
// address are refused.
func TestPrepare(t *testing.T) {
	log := zerolog.Nop()
	cfg := conf.Default()
	cfg.Node.StateDir = t.TempDir()
	cfg.Jobs.Workers = 0
	if s, err := Prepare(cfg, "", log, nil); s != nil || err != nil {
		t.Errorf("no workers: %v %v", s, err)
	}
	cfg.Jobs.Workers = 2
	s, err := Prepare(cfg, "", log, nil)
	if err != nil || s == nil {
		t.Fatalf("two workers: %v", err)
	}
	token := filepath.Join(cfg.Node.StateDir, "run", "queue-token")
	if s.n != 2 || cfg.Jobs.Workers != 0 || cfg.NATS.Listen != "127.0.0.1:0" || cfg.NATS.TokenFile != token {
		t.Errorf("serve's configuration: workers %d, nats %q %q", cfg.Jobs.Workers, cfg.NATS.Listen, cfg.NATS.TokenFile)
	}
	if st, err := os.Stat(token); err != nil || st.Mode().Perm() != 0o600 || st.Size() != 64 {
		t.Errorf("token file: %v %v", st, err)
	}
	cfg = conf.Default()
	cfg.Node.StateDir = t.TempDir()
	cfg.Jobs.Workers = 1
	cfg.NATS.User, cfg.NATS.PasswordFile = "tweedie", "/dev/null"
	if _, err := Prepare(cfg, "", log, nil); err == nil || !strings.Contains(err.Error(), "nats credentials without nats.listen") {
		t.Errorf("credentials without a listener: %v", err)
	}
}
