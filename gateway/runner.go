package gateway

import (
	"context"
	"path/filepath"
	"time"

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
		if err := RewriteUIDs(in, out, map[part10.Tag]string{part10.TagSOPInstanceUID: sop, part10.TagSeriesInstanceUID: series}); err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	return outs, nil
}
