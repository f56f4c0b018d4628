package part10

import (
	"errors"
	"fmt"
)

var (
	// ErrNotPart10 is wrapped by ReadMeta's error when the input lacks the
	// 128-byte preamble and "DICM" prefix of PS3.10 §7.1.
	ErrNotPart10 = errors.New("part10: not a DICOM Part 10 file (no \"DICM\" prefix after the 128-byte preamble)")
	// ErrCannotTranscode is wrapped by Transcode's error when either transfer
	// syntax is not one of the four native ones.
	ErrCannotTranscode = errors.New("part10: cannot transcode between these transfer syntaxes")
	// ErrMalformed is wrapped by every *FormatError: the input does not
	// follow the encoding rules of PS3.5 or PS3.10, or exceeds a bound.
	ErrMalformed = errors.New("part10: malformed DICOM data")
)

// FormatError reports malformed input: where it was found and what is wrong.
// It wraps ErrMalformed.
type FormatError struct {
	// Offset is the byte offset of the offending element or value: from the
	// start of the file for ReadMeta, from the start of the (inflated) data
	// set for Transcode and DataSetInfo.
	Offset int64
	// Tag is the offending element's tag (group<<16 | element) when HasTag.
	Tag    Tag
	HasTag bool
	Msg    string
}

func (e *FormatError) Error() string {
	if e.HasTag {
		return fmt.Sprintf("part10: element %s at offset %d: %s", fmtTag(e.Tag), e.Offset, e.Msg)
	}
	return fmt.Sprintf("part10: offset %d: %s", e.Offset, e.Msg)
}

func (e *FormatError) Unwrap() error { return ErrMalformed }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func tagErr(off int64, t Tag, format string, args ...any) error {
	return &FormatError{Offset: off, Tag: t, HasTag: true, Msg: fmt.Sprintf(format, args...)}
}
