package models

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped-model cache in a shared temporary folder: a folder another
// user made there first (here: owned by nobody, mode 0777) is not used,
// under the old name or the new one; a fresh one is 0700 and ours.
func TestModelCacheNotPreCreatable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a folder owned by another user needs root")
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "") // os.UserCacheDir fails: only the temporary folder is left
	clean := t.TempDir()
	t.Setenv("TMPDIR", clean)
	d, err := extract()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("fresh cache %s: %v %v, want mode 0700", d, fi.Mode(), err)
	}
	base := filepath.Base(d) // tweedie-models-UID-TAG
	i := strings.LastIndex(base, "-")
	hostile := t.TempDir()
	t.Setenv("TMPDIR", hostile)
	for _, name := range []string{base, "tweedie-models-" + base[i+1:]} { // the new name and the old one
		p := filepath.Join(hostile, name)
		if err := os.Mkdir(p, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o777)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := extract(); err == nil {
		t.Fatalf("used %s, a folder another user made", d)
	}
}
