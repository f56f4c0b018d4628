package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// Job is one unit of work on the queue: an action of the rules applied to
// one batch (a completed series generation).
type Job struct {
	ID            string            `json:"id"` // "<batch ID>-a<action index>"
	Batch         string            `json:"batch"`
	Kind          string            `json:"kind"` // "reconstruct" or "forward"
	Reconstructor string            `json:"reconstructor,omitempty"`
	Params        map[string]string `json:"params,omitempty"`
	Destinations  []string          `json:"destinations"`
	Rule          string            `json:"rule,omitempty"`
	StudyUID      string            `json:"study_uid"`
	SeriesUID     string            `json:"series_uid"`
	// Inputs are the instance file names of the batch; remote workers
	// fetch them from the object store as "<batch>/<name>".
	Inputs  []string  `json:"inputs"`
	Created time.Time `json:"created"`
}

// Runner runs a reconstructor: it reads the job's input files and writes
// its outputs (Part 10 files) into outDir, returning their paths. Output
// UIDs must be a pure function of the inputs and the job (see DeriveUID),
// so that a job run again after a crash produces the same instances, not
// second copies. An error wrapped by Permanent is not retried.
type Runner interface {
	Run(ctx context.Context, job Job, inputs []string, outDir string) (outputs []string, err error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, job Job, inputs []string, outDir string) ([]string, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, job Job, inputs []string, outDir string) ([]string, error) {
	return f(ctx, job, inputs, outDir)
}

// PermanentError marks a job failure that another attempt cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the job is quarantined at once.
func Permanent(err error) error { return &PermanentError{Err: err} }

// DeriveUID returns the UID of an output derived from an input UID by a
// job: "2.25." and the decimal of 128 bits of SHA-256 (PS3.5 §B.2), a pure
// function, so a resend after a crash is the same instance.
func DeriveUID(inputUID, jobID, role string) string {
	return rawdata.DeriveUID(inputUID, jobID, role)
}

// Identity is the built-in reconstructor "identity": each input comes out
// unchanged but for new SOP Instance and Series Instance UIDs derived from
// the input's and the job ID. It tests the reconstruct path (jobs, runner
// outputs, outboxes) without the numerics.
var Identity Runner = RunnerFunc(identity)

func identity(ctx context.Context, job Job, inputs []string, outDir string) ([]string, error) {
	var outs []string
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := ReadHeader(in)
		if err != nil {
			return nil, Permanent(err)
		}
		sop := DeriveUID(h.SOPInstanceUID, job.ID, "sop")
		series := DeriveUID(h.SeriesUID, job.ID, "series")
		out := filepath.Join(outDir, sop+".dcm")
		if err := RewriteUIDs(in, out, map[uint32]string{tagSOPInstanceUID: sop, tagSeriesInstance: series}); err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// RewriteUIDs copies the Part 10 file src to dst with new values for
// top-level UI elements (tag → UID); the SOP Instance UID's new value also
// goes into the file meta information. Native syntaxes other than
// Explicit VR Little Endian are converted to it; the others are copied as
// they are. dst is written durably (temporary file, fsync, rename).
func RewriteUIDs(src, dst string, uids map[uint32]string) error {
	for t, u := range uids {
		if !dimse.ValidUID(u) {
			return fmt.Errorf("RewriteUIDs: %q for %s is not a valid UID", u, fmtTag(t))
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
	info, ok := part10.LookupTransferSyntax(m.TransferSyntaxUID)
	if !ok {
		return Permanent(fmt.Errorf("%s: unknown transfer syntax %s", src, m.TransferSyntaxUID))
	}
	var in io.Reader = br
	done := make(chan error, 1)
	if !info.Explicit || info.BigEndian || info.Deflated {
		pr, pw := io.Pipe()
		go func() {
			err := part10.Transcode(pw, br, m.TransferSyntaxUID, part10.ExplicitVRLittleEndian)
			pw.CloseWithError(err)
			done <- err
		}()
		defer pr.Close()
		in = pr
		m.TransferSyntaxUID = part10.ExplicitVRLittleEndian
	} else {
		done <- nil
	}
	if u, ok := uids[tagSOPInstanceUID]; ok {
		m.MediaStorageSOPInstanceUID = u
	}
	m.ImplementationClassUID, m.ImplementationVersionName = dimse.ImplementationClassUID, dimse.ImplementationVersionName
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".out-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 256<<10)
	err = part10.WriteMeta(bw, m)
	if err == nil {
		err = rewriteTopLevel(bw, bufio.NewReaderSize(in, 64<<10), uids)
	}
	if err == nil {
		err = <-done
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

// rewriteTopLevel copies Explicit VR Little Endian elements, replacing the
// values of top-level elements named in uids and dropping top-level group
// lengths (their values would be wrong). Nested data sets are copied
// byte for byte; everything from Pixel Data on is copied as is.
func rewriteTopLevel(w *bufio.Writer, r *bufio.Reader, uids map[uint32]string) error {
	var hd [12]byte
	depth := 0
	for {
		if _, err := io.ReadFull(r, hd[:8]); err != nil {
			if err == io.EOF && depth == 0 {
				return nil
			}
			return errors.New("data set ends inside an element header")
		}
		group, elem := binary.LittleEndian.Uint16(hd[0:]), binary.LittleEndian.Uint16(hd[2:])
		tag := uint32(group)<<16 | uint32(elem)
		if group == 0xFFFE {
			length := binary.LittleEndian.Uint32(hd[4:])
			w.Write(hd[:8])
			switch {
			case elem == 0xE000 && length == undefinedLen:
				depth++
			case elem == 0xE000:
				if _, err := io.CopyN(w, r, int64(length)); err != nil {
					return err
				}
			default:
				depth--
			}
			continue
		}
		if depth == 0 && group >= 0x7FE0 {
			w.Write(hd[:8])
			_, err := io.Copy(w, r)
			return err
		}
		vr := string(hd[4:6])
		hl := 8
		length := uint32(binary.LittleEndian.Uint16(hd[6:]))
		if longVR(vr) {
			if _, err := io.ReadFull(r, hd[8:12]); err != nil {
				return err
			}
			hl, length = 12, binary.LittleEndian.Uint32(hd[8:])
		}
		if length == undefinedLen {
			w.Write(hd[:hl])
			depth++
			continue
		}
		if u, ok := uids[tag]; ok && depth == 0 && vr == "UI" {
			if _, err := r.Discard(int(length)); err != nil {
				return err
			}
			v := []byte(u)
			if len(v)%2 == 1 {
				v = append(v, 0)
			}
			binary.LittleEndian.PutUint16(hd[6:], uint16(len(v)))
			w.Write(hd[:8])
			w.Write(v)
			continue
		}
		if depth == 0 && elem == 0x0000 {
			if _, err := r.Discard(int(length)); err != nil {
				return err
			}
			continue
		}
		w.Write(hd[:hl])
		if _, err := io.CopyN(w, r, int64(length)); err != nil {
			return err
		}
	}
}
