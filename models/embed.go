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
	cands = append(cands, filepath.Join(os.TempDir(), "tweedie-models-"+tag))
	var errs []error
	for _, d := range cands {
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
