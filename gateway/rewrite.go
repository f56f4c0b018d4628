package gateway

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
)

// RewriteUIDs copies the Part 10 file src to dst with new values for
// top-level UI elements (tag → UID); the SOP Instance UID's new value also
// goes into the file meta information (PS3.10 §7.1). The data set is
// rewritten by part10.Rewrite: a native one in Explicit VR Little Endian,
// an encapsulated one in its own syntax with its fragments as they were.
// dst is written durably (temporary file, fsync, rename).
func RewriteUIDs(src, dst string, uids map[part10.Tag]string) error {
	for t, u := range uids {
		if !dimse.ValidUID(u) {
			return fmt.Errorf("RewriteUIDs: %q for %s is not a valid UID", u, t)
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	m, err := part10.ReadMeta(br)
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", src, err))
	}
	inTS := m.TransferSyntaxUID
	info, ok := part10.LookupTransferSyntax(inTS)
	if !ok {
		return Permanent(fmt.Errorf("%s: unknown transfer syntax %s", src, inTS))
	}
	if u, ok := uids[part10.TagSOPInstanceUID]; ok {
		m.MediaStorageSOPInstanceUID = u
	}
	m.ImplementationClassUID, m.ImplementationVersionName = dimse.ImplementationClassUID, dimse.ImplementationVersionName
	if !info.Encapsulated {
		m.TransferSyntaxUID = part10.ExplicitVRLittleEndian
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".out-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 256<<10)
	err = part10.WriteMeta(bw, m)
	if err == nil {
		_, err = part10.Rewrite(bw, br, inTS, uids)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", filepath.Base(src), err)
	}
	return os.Rename(tmp.Name(), dst)
}
