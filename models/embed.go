// Package models holds the score models shipped with tweedie (the .onnx
// files and their cards in this folder, README.md for their training and
// licences), embedded in the binary so that the diffusion reconstructors
// work on a fresh machine with nothing downloaded.
//
// ONNX Runtime loads models from files: Dir writes the embedded ones once
// to a cache folder named after their content and returns it.
package models

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

//go:embed *.onnx *.yaml
var files embed.FS

// FS is the shipped models and their cards.
func FS() fs.FS { return files }

var (
	once   sync.Once
	dir    string
	dirErr error
)

// Dir returns a folder holding the shipped models and cards, writing them
// there on the first call of the process: $XDG_CACHE_HOME/tweedie/models/HASH
// (os.UserCacheDir), else os.TempDir()/tweedie-models-HASH, HASH from the
// files' content. Files already there are reused when their content matches.
func Dir() (string, error) {
	once.Do(func() { dir, dirErr = extract() })
	return dir, dirErr
}

func extract() (string, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(entries))
	h := sha256.New()
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	data := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return "", err
		}
		data[n] = b
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	tag := hex.EncodeToString(h.Sum(nil))[:16]
	var cands []string
	if c, err := os.UserCacheDir(); err == nil {
		cands = append(cands, filepath.Join(c, "tweedie", "models", tag))
	}
	// The shared temporary folder: any user can create a name there
	// first (and fill it with a model of their choosing, or a link), so
	// the folder is private to this user (uid in the name, 0700) and is
	// used only when it is a real folder owned by this user and closed to
	// others (privateDir).
	shared := filepath.Join(os.TempDir(), fmt.Sprintf("tweedie-models-%d-%s", os.Getuid(), tag))
	cands = append(cands, shared)
	var errs []error
	for _, d := range cands {
		if d == shared {
			if err := privateDir(d); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := write(d, names, data); err != nil {
			errs = append(errs, err)
			continue
		}
		return d, nil
	}
	return "", fmt.Errorf("shipped models: cannot write them to a cache folder: %w", errors.Join(errs...))
}

func write(d string, names []string, data map[string][]byte) error {
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		p := filepath.Join(d, n)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data[n]) {
			continue
		}
		f, err := os.CreateTemp(d, ".tmp-"+n+"-*")
		if err != nil {
			return err
		}
		_, err = f.Write(data[n])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), p)
		}
		if err != nil {
			os.Remove(f.Name())
			return err
		}
	}
	return nil
}

// privateDir makes d (mode 0700) or accepts it as it is only when it is a
// folder, not a link, owned by this user, with no access for others.
func privateDir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder (a link?); not using it", d)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to this user (%d); not using it", d, st.Uid, os.Getuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %v); not using it", d, fi.Mode().Perm())
	}
	return nil
}
