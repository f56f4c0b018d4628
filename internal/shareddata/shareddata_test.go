package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFromModuleRoot(t *testing.T) {
	t.Setenv(Env, "")
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	dir, err := Dir()
	want := filepath.Join(filepath.Dir(root), "shared", "data")
	if dir != want {
		t.Errorf("Dir() = %q, want %q", dir, want)
	}
	if err != nil {
		t.Fatalf("the project's data are missing: %v", err)
	}
}

func TestDirOverride(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv(Env, tmp)
	if dir, err := Dir(); err != nil || dir != tmp {
		t.Errorf("Dir() = %q, %v; want %q", dir, err, tmp)
	}
	t.Setenv(Env, filepath.Join(tmp, "absent"))
	if _, err := Dir(); err == nil {
		t.Error("a missing SHARED_DATA folder is not an error")
	}
}
