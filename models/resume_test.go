package models

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestTrainingResumesFromCommittedState: a fresh clone continues the
// priors' training from the compact state committed in tools/train/state
// (fp16 EMA weights and the step count; issue 12): one step on a tiny crop
// with Debian's python3-torch, from a copy of the state, must start at the
// committed step and end one step later.
func TestTrainingResumesFromCommittedState(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Fatalf("Debian's python3-torch is needed (scripts/install-deps.sh test): %v", err)
	}
	for _, mod := range []string{"ct", "mr"} {
		state := filepath.Join("..", "tools", "train", "state", mod+".pt")
		b, err := os.ReadFile(state)
		if os.IsNotExist(err) {
			t.Logf("%s: no committed state for the %s prior", state, mod)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cp := filepath.Join(dir, mod+".pt")
		if err := os.WriteFile(cp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, filepath.Join("..", "tools", "train", "train.py"), "--modality", mod,
			"--run", filepath.Join(dir, "run"), "--state", cp, "--steps", "1", "--sizes", "64", "--pixels", "8192").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: train.py: %v\n%s", mod, err, out)
		}
		from := regexp.MustCompile(`warm restart from \S+: step (\d+)`).FindSubmatch(out)
		to := regexp.MustCompile(`done: step (\d+)`).FindSubmatch(out)
		if from == nil || to == nil {
			t.Fatalf("%s: no warm restart or end in the output:\n%s", mod, out)
		}
		a, _ := strconv.Atoi(string(from[1]))
		z, _ := strconv.Atoi(string(to[1]))
		if a == 0 || z != a+1 {
			t.Errorf("%s: resumed at step %d, ended at %d; want a committed step > 0 and one more", mod, a, z)
		}
		t.Logf("%s: resumed at step %d, one step on a 64² crop", mod, a)
	}
}
