package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The write-ahead discipline of every durable file of the gateway: write a
// temporary file in the same file system, fsync it, rename it over the
// final name (atomic, POSIX rename(2)), then fsync the directory so that
// the rename itself survives a crash.

// syncDir fsyncs a directory, making the entries created or renamed in it
// durable.
func syncDir(dir string) error {
	if err := fsyncPath(dir); err != nil {
		return fmt.Errorf("fsync of folder %s: %w", dir, err)
	}
	return nil
}

// mkdirDurable creates dir and its missing parents, fsyncing each parent
// in which an entry was created.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// writeFileDurable writes data to path through a temporary file, fsync,
// rename and a directory fsync.
func writeFileDurable(path string, data []byte) error {
	if err := writeFrom(bytes.NewReader(data), filepath.Dir(path), path, true); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeFrom writes src to path through a temporary file in tmpDir and a
// rename; with sync, durably (file and folder fsynced).
func writeFrom(src io.Reader, tmpDir, path string, sync bool) error {
	out, err := os.CreateTemp(tmpDir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(out, src)
	if err == nil && sync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(out.Name(), path)
	}
	if err != nil {
		os.Remove(out.Name())
		return err
	}
	if sync {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func writeJSONDurable(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileDurable(path, append(b, '\n'))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// linkOrCopy makes dst hold the contents of src: a hard link when both are
// on one file system, a durable copy otherwise. dst is replaced
// atomically.
func linkOrCopy(src, dst string) error {
	dir := filepath.Dir(dst)
	tmp := filepath.Join(dir, ".link-"+filepath.Base(dst))
	os.Remove(tmp)
	if err := os.Link(src, tmp); err == nil {
		return os.Rename(tmp, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// freeBytes returns the bytes available to this user on dir's file system.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// isNoSpace reports a full file system or quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// fsyncPath fsyncs the file at path.
func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
