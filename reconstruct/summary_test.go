package reconstruct

import (
	"os"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// TestSummaryWritesNoModels: the summary serve prints once its listener is
// open names the shipped score models without writing them out (hashing
// and writing 21 MB competed with the first association: storescu sent
// to a node just started ran at 0.70× storescp against 0.90× without it,
// docs/benchmarks.md).
func TestSummaryWritesNoModels(t *testing.T) {
	cache, tmp := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", tmp)
	t.Setenv("TMPDIR", tmp)
	t.Chdir(t.TempDir()) // no models folder
	o := conf.Default().ONNX
	lines := strings.Join(Summary(onnx.Config{Library: o.Library, Device: o.Device, IntraOpThreads: o.IntraOpThreads, Models: o.Models}), "\n")
	if !strings.Contains(lines, "MR tweedie_mr_unet (shipped in the binary)") || !strings.Contains(lines, "CT tweedie_ct_unet (shipped in the binary)") {
		t.Errorf("score models line:\n%s", lines)
	}
	for _, d := range []string{cache, tmp} {
		if es, _ := os.ReadDir(d); len(es) > 0 {
			t.Errorf("the summary wrote %s into %s", es[0].Name(), d)
		}
	}
}
