package part10

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
)

// Deflated Explicit VR Little Endian (PS3.5 §A.5) is a raw DEFLATE stream
// (RFC 1951): a few megabytes on the wire can claim gigabytes inflated (a
// "deflate bomb", about 1032:1 at most). Whoever inflates data from a peer
// bounds it here: an absolute size, and a ratio of inflated to deflated
// bytes, so that the work done is proportional to what the peer sent.

// InflationLimit bounds the inflation of a deflated data set. A zero field
// sets no bound of its kind.
type InflationLimit struct {
	// MaxBytes is the largest inflated data set accepted.
	MaxBytes int64
	// MaxRatio bounds inflated bytes per deflated byte consumed, beyond
	// the first RatioSlack inflated bytes (small data sets and the elements
	// before the pixel data compress well without being bombs).
	MaxRatio float64
}

// RatioSlack is the inflated size up to which InflationLimit.MaxRatio does
// not apply.
const RatioSlack = 1 << 20

// ErrInflationLimit is wrapped by the errors of a deflated data set that
// inflates beyond its InflationLimit.
var ErrInflationLimit = errors.New("part10: deflated data set inflates beyond the limit")

// check returns an error wrapping ErrInflationLimit when out inflated bytes
// from in deflated ones exceed the limit.
func (l InflationLimit) check(in, out int64) error {
	if l.MaxBytes > 0 && out > l.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes inflated (from %d deflated)", ErrInflationLimit, l.MaxBytes, in)
	}
	if l.MaxRatio > 0 && out > RatioSlack && float64(out-RatioSlack) > l.MaxRatio*float64(max(in, 1)) {
		return fmt.Errorf("%w: %d bytes inflated from %d deflated, more than %g:1", ErrInflationLimit, out, in, l.MaxRatio)
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limitedInflater reads the inflated stream and fails once it passes the
// limit. The inflated bytes it has already returned are within the limit.
type limitedInflater struct {
	src *countingReader
	fr  io.ReadCloser
	lim InflationLimit
	out int64
	err error
}

// NewLimitedInflater returns a reader of the inflated content of the raw
// DEFLATE stream src (PS3.5 §A.5). Its Read fails with an error wrapping
// ErrInflationLimit as soon as the output would pass lim, having inflated at
// most one read's worth (len(p)) beyond it; a corrupt stream gives a
// *FormatError. Close releases the inflater, not src.
func NewLimitedInflater(src io.Reader, lim InflationLimit) io.ReadCloser {
	c := &countingReader{r: src}
	return &limitedInflater{src: c, fr: flate.NewReader(c), lim: lim}
}

func (l *limitedInflater) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.fr.Read(p)
	if lerr := l.lim.check(l.src.n, l.out+int64(n)); lerr != nil {
		l.err = lerr
		return 0, lerr
	}
	l.out += int64(n)
	var ce flate.CorruptInputError
	switch {
	case errors.As(err, &ce):
		err = formatErr(l.out, "corrupt deflated data set: %v", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = formatErr(l.out, "deflated data set ends before its last block")
	}
	if err != nil {
		l.err = err
	}
	return n, err
}

func (l *limitedInflater) Close() error { return l.fr.Close() }

// Inflated is the number of inflated bytes read so far.
func (l *limitedInflater) Inflated() int64 { return l.out }

// InflationCheck inflates a deflated data set written to it piece by piece,
// as a receiver gets it, discarding the output: it tells, without storing
// anything inflated, whether the data set stays within its limit and is a
// complete, valid DEFLATE stream. Bytes after the end of the stream (PS3.5
// §A.5 pads an odd length with one) are read and ignored. Memory is the
// inflater's window and one copy buffer, whatever the claim.
//
// Write returns the verdict as soon as there is one (the inflater runs in a
// goroutine of its own, in step with the writer: a Write returns when its
// bytes have been consumed). Close or Abort must be called to end it.
type InflationCheck struct {
	pw   *io.PipeWriter
	done chan struct{}
	err  error // the inflater's verdict, once done is closed
	out  int64
}

// errCheckAborted ends an InflationCheck whose data set was abandoned.
var errCheckAborted = errors.New("part10: inflation check abandoned")

// NewInflationCheck starts a check of one deflated data set against lim.
func NewInflationCheck(lim InflationLimit) *InflationCheck {
	pr, pw := io.Pipe()
	c := &InflationCheck{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		li := NewLimitedInflater(pr, lim).(*limitedInflater)
		defer li.Close()
		buf := make([]byte, 32<<10)
		var err error
		for err == nil {
			_, err = li.Read(buf)
		}
		c.out = li.Inflated()
		if err == io.EOF {
			// The stream's last block ended: what follows is padding.
			_, err = io.Copy(io.Discard, pr)
		}
		c.err = err
		// Writers blocked on the pipe get the verdict.
		if err == nil {
			err = io.ErrClosedPipe
		}
		pr.CloseWithError(err)
	}()
	return c
}

// Write feeds the next deflated bytes. It fails, with the verdict, once the
// data set is known to be over the limit or corrupt.
func (c *InflationCheck) Write(p []byte) (int, error) {
	n, err := c.pw.Write(p)
	if err != nil {
		<-c.done
		if c.err != nil {
			return n, c.err
		}
	}
	return n, err
}

// Close marks the end of the data set and returns the verdict: nil, an
// error wrapping ErrInflationLimit, or a *FormatError for a corrupt or
// truncated stream.
func (c *InflationCheck) Close() error {
	_ = c.pw.Close()
	<-c.done
	return c.err
}

// Abort ends a check whose data set will not be completed.
func (c *InflationCheck) Abort() {
	_ = c.pw.CloseWithError(errCheckAborted)
	<-c.done
}

// Inflated is the number of bytes inflated, once Close or Abort returned.
func (c *InflationCheck) Inflated() int64 { return c.out }
