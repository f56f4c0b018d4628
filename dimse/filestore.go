package dimse

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

// FileStore is a StoreHandler that writes each received data set, as
// received, to Dir/<SOP Instance UID>.dcm as a Part 10 file (PS3.10 §7) whose
// meta information names the transfer syntax it arrived in. Each file is
// written to a temporary name and renamed when complete, so a reader never
// sees half an object; with Fsync the data reach the disk before Success is
// answered.
type FileStore struct {
	Dir   string
	Fsync bool
	// A duplicate SOP instance replaces the stored one; the gateway's
	// spool has the configurable policy.
}

// BeginStore opens the temporary file and writes the file meta information.
func (fs *FileStore) BeginStore(req *StoreRequest) (StoreSink, error) {
	if !ValidUID(req.SOPInstanceUID) {
		return nil, &StatusError{Status: msg.StatusCannotUnderstand, Comment: "invalid SOP Instance UID"}
	}
	f, err := os.CreateTemp(fs.Dir, ".incoming-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfResources, err)
	}
	// The meta information goes out in one write; data set fragments, which
	// arrive in PDV-sized pieces, are written straight to the file (no
	// per-object buffer to allocate and copy through).
	s := &fileSink{fs: fs, f: f, final: filepath.Join(fs.Dir, req.SOPInstanceUID+".dcm")}
	var meta bytes.Buffer
	err = part10.WriteMeta(&meta, part10.Meta{MediaStorageSOPClassUID: req.SOPClassUID, MediaStorageSOPInstanceUID: req.SOPInstanceUID,
		TransferSyntaxUID: req.TransferSyntaxUID, ImplementationClassUID: ImplementationClassUID,
		ImplementationVersionName: ImplementationVersionName, SourceApplicationEntityTitle: req.Association.CallingAE})
	if err == nil {
		_, err = f.Write(meta.Bytes())
	}
	if err != nil {
		s.discard()
		return nil, err
	}
	return s, nil
}

type fileSink struct {
	fs    *FileStore
	f     *os.File
	final string
}

func (s *fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *fileSink) discard() {
	s.f.Close()
	os.Remove(s.f.Name())
}

func (s *fileSink) Close(transferErr error) (uint16, error) {
	if transferErr != nil {
		s.discard()
		return 0, transferErr
	}
	var err error
	if s.fs.Fsync {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(s.f.Name(), s.final)
	}
	if err != nil {
		os.Remove(s.f.Name())
		return 0, fmt.Errorf("%w: storing %s: %v", ErrOutOfResources, filepath.Base(s.final), err)
	}
	return msg.StatusSuccess, nil
}
