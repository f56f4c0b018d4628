package reconstruct

import (
	"os"
	"sync"
	"testing"

	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// The shipped models are written to their cache folder once per process
// (models.Dir), so the tests that use them share one folder, removed at
// the end.
var (
	cacheOnce sync.Once
	cacheDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}

// shippedScore is a CPU score runtime with no models folder, so that dds
// finds the models shipped in the binary; it skips without ONNX Runtime
// (fails in CI).
func shippedScore(t *testing.T) *ScoreRuntime {
	t.Helper()
	if _, err := (onnx.Config{}).ConfigFromEnv().LibraryPath(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no ONNX Runtime: %v", err)
	}
	cacheOnce.Do(func() {
		d, err := os.MkdirTemp("", "tweedie-reconstruct-test")
		if err != nil {
			t.Fatal(err)
		}
		cacheDir = d
	})
	t.Setenv(onnx.EnvModels, "")
	t.Setenv("XDG_CACHE_HOME", cacheDir)
	return NewScoreRuntime(onnx.Config{Device: "cpu"})
}
