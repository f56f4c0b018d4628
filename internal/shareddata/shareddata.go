// Package shareddata finds the project's real data (images, DICOM samples)
// for the tests that need them: ../shared/data beside the checkout, that is
// beside the folder that holds go.mod, or the folder SHARED_DATA names.
//
// A test that needs the data fails when they are missing, in CI and on a
// workstation alike: a suite that goes green without its data has not
// tested what it claims (scripts/test.sh).
package shareddata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Env is the environment variable that overrides the location.
const Env = "SHARED_DATA"

// Dir returns the absolute path of the shared data folder and an error when
// it is not there. The module root is found by walking up from the current
// folder (a test's folder is its package's) to the first go.mod.
func Dir() (string, error) {
	if d := os.Getenv(Env); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return d, err
		}
		if _, err := os.Stat(abs); err != nil {
			return abs, fmt.Errorf("%s=%s: %w", Env, d, err)
		}
		return abs, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	data := filepath.Join(filepath.Dir(root), "shared", "data")
	if _, err := os.Stat(data); err != nil {
		return data, err
	}
	return data, nil
}

// ModuleRoot returns the folder of the nearest go.mod at or above the
// current folder.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the current folder")
		}
		dir = parent
	}
}

// Path returns the shared data folder joined with elem, and fails the test
// (never skips it) when that file or folder is missing.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("the project's data are missing (../shared/data beside the checkout, or %s): %v", Env, err)
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the project's data are incomplete: %v", err)
	}
	return p
}
