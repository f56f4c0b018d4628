package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tweedie-recon/tweedie/dimse"
)

// Queue messages are untrusted input. Whoever can publish on the job
// subject (a remote worker's credentials, a misconfigured client, an
// attacker who reached the NATS port) chooses every byte of a job, and its
// ID, batch and input names become paths under the state folder: a job
// with ID ".." once made the worker's clean-up remove the whole state
// folder. So every field is checked against the grammar the node itself
// produces before anything looks at it, and a message that does not parse
// is terminated (JetStream Term: not redelivered) and audited as a
// Security Alert (PS3.15 §A.5.3.11).

// Limits of a job message. The node writes far smaller ones; the limits
// only bound what a forged one can cost.
const (
	maxJobMessage  = 4 << 20 // bytes of JSON
	maxJobInputs   = 100000  // instances of one batch
	maxJobDests    = 64
	maxJobParams   = 64
	maxParamValue  = 1024
	maxRuleName    = 256
	maxActionIndex = 9999
)

// ErrInvalidJob is wrapped by every error of DecodeJob and Job.Validate.
var ErrInvalidJob = errors.New("invalid job message")

// DecodeJob parses a job message from the queue strictly: one JSON object
// of at most 4 MiB, no unknown or duplicated-away fields, nothing after
// it, and every field valid (Job.Validate).
func DecodeJob(b []byte) (Job, error) {
	var job Job
	if len(b) > maxJobMessage {
		return job, fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidJob, len(b), maxJobMessage)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&job); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrInvalidJob, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Job{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidJob)
	}
	if err := job.Validate(); err != nil {
		return Job{}, err
	}
	return job, nil
}

// Validate checks every field against the grammar of the jobs that decide
// (route.go) makes:
//
//	batch         = UID "-g" generation          (PS3.5 §9.1 UID; generation 1..)
//	id            = batch "-a" action-index      (0..9999, no leading zero)
//	kind          = "forward" / "reconstruct"
//	reconstructor = name (reconstruct only; empty for forward)
//	destinations  = 0*64 name
//	name          = 1*64 (ALPHA / DIGIT / "-" / "_")
//	params        = 0*64 (key: 1*64 (ALPHA / DIGIT / "-" / "_" / "."), value: printable, ≤ 1 KiB)
//	rule          = printable, ≤ 256 bytes
//	study_uid, series_uid = UID; series_uid is the batch's
//	inputs        = 1*100000 (UID ".dcm"), no repeats
//
// so that no field can name a path outside its folder ("..", "/", "\",
// NUL) or smuggle control characters into logs.
func (j *Job) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidJob, field, fmt.Sprintf(format, a...))
	}
	series, _, ok := parseBatchID(j.Batch)
	if !ok {
		return bad("batch", "%q is not <series UID>-g<generation>", clip(j.Batch))
	}
	rest, found := strings.CutPrefix(j.ID, j.Batch+"-a")
	if !found || !validIndex(rest) {
		return bad("id", "%q is not <batch>-a<action index> of batch %s", clip(j.ID), j.Batch)
	}
	switch j.Kind {
	case "forward":
		if j.Reconstructor != "" || len(j.Params) > 0 {
			return bad("reconstructor", "a forward job names no reconstructor nor parameters")
		}
	case "reconstruct":
		if !validJobName(j.Reconstructor) {
			return bad("reconstructor", "%q is not a name (letters, digits, '-', '_'; 1 to 64)", clip(j.Reconstructor))
		}
	default:
		return bad("kind", "%q is not forward or reconstruct", clip(j.Kind))
	}
	if len(j.Params) > maxJobParams {
		return bad("params", "%d parameters (at most %d)", len(j.Params), maxJobParams)
	}
	for k, v := range j.Params {
		if !validParamKey(k) {
			return bad("params", "key %q is not a parameter name", clip(k))
		}
		if len(v) > maxParamValue || !printable(v) {
			return bad("params", "value of %s is not printable text of at most %d bytes", k, maxParamValue)
		}
	}
	if len(j.Destinations) > maxJobDests {
		return bad("destinations", "%d (at most %d)", len(j.Destinations), maxJobDests)
	}
	for _, d := range j.Destinations {
		if !validJobName(d) {
			return bad("destinations", "%q is not a name (letters, digits, '-', '_'; 1 to 64)", clip(d))
		}
	}
	if len(j.Rule) > maxRuleName || !printable(j.Rule) {
		return bad("rule", "not printable text of at most %d bytes", maxRuleName)
	}
	if !dimse.ValidUID(j.StudyUID) {
		return bad("study_uid", "%q is not a UID", clip(j.StudyUID))
	}
	if j.SeriesUID != series {
		return bad("series_uid", "%q is not the series of batch %s", clip(j.SeriesUID), j.Batch)
	}
	if len(j.Inputs) == 0 || len(j.Inputs) > maxJobInputs {
		return bad("inputs", "%d (1 to %d)", len(j.Inputs), maxJobInputs)
	}
	seen := make(map[string]bool, len(j.Inputs))
	for _, n := range j.Inputs {
		uid, ok := strings.CutSuffix(n, ".dcm")
		if !ok || !dimse.ValidUID(uid) {
			return bad("inputs", "%q is not <SOP Instance UID>.dcm", clip(n))
		}
		if seen[n] {
			return bad("inputs", "%s twice", n)
		}
		seen[n] = true
	}
	return nil
}

// ValidJobID reports whether id is a job ID (<series UID>-g<n>-a<k>), as
// the keys of the status bucket must be; it returns the batch.
func ValidJobID(id string) (batch string, ok bool) {
	i := strings.LastIndex(id, "-a")
	if i < 0 || !validIndex(id[i+2:]) {
		return "", false
	}
	if _, _, ok := parseBatchID(id[:i]); !ok {
		return "", false
	}
	return id[:i], true
}

func validIndex(s string) bool {
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= maxActionIndex && strconv.Itoa(n) == s
}

func validJobName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validParamKey(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// printable: valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// clip shortens a hostile value for an error message and makes it one
// line (%q escapes the rest).
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
