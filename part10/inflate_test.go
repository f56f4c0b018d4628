package part10

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// deflateBomb returns a raw DEFLATE stream of prefix followed by mib MiB of
// zeros, built without deflating the zeros more than once: one megabyte of
// zeros deflated by a fresh writer and sync-flushed is a run of non-final
// blocks whose matches reach only into themselves, so it can be repeated;
// an empty final block (fixed Huffman, 0x03 0x00) ends the stream.
func deflateBomb(tb testing.TB, prefix []byte, mib int) []byte {
	tb.Helper()
	var out, blk bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.BestCompression)
	fw.Write(prefix)
	fw.Flush()
	bw, _ := flate.NewWriter(&blk, flate.BestCompression)
	bw.Write(make([]byte, 1<<20))
	bw.Flush()
	for range mib {
		out.Write(blk.Bytes())
	}
	out.Write([]byte{0x03, 0x00})
	return out.Bytes()
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.DefaultCompression)
	fw.Write(b)
	fw.Close()
	return out.Bytes()
}

// noisy is data that deflates about 2:1, like an image.
func noisy(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(16))
	}
	return b
}

func TestDeflateBombIsWhatItClaims(t *testing.T) {
	b := deflateBomb(t, []byte("head"), 8)
	got, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil || len(got) != 4+8<<20 || string(got[:4]) != "head" {
		t.Fatalf("bomb inflates to %d bytes, %v", len(got), err)
	}
}

func TestLimitedInflater(t *testing.T) {
	data := noisy(3 << 20)
	r := NewLimitedInflater(bytes.NewReader(deflate(data)), InflationLimit{MaxBytes: 4 << 20, MaxRatio: 10})
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("within the limits: %d bytes, %v", len(got), err)
	}
	// 1 GiB claimed from about 1 MiB: the absolute limit stops it, in
	// bounded memory.
	bomb := deflateBomb(t, nil, 1024)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r = NewLimitedInflater(bytes.NewReader(bomb), InflationLimit{MaxBytes: 64 << 20})
	n, err := io.Copy(io.Discard, r)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrInflationLimit) || n > 64<<20 {
		t.Fatalf("bomb of %d bytes: %d inflated, %v", len(bomb), n, err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
		t.Errorf("inflating to the limit allocated %d bytes", a)
	}
	// The ratio stops it early: little more than 100 times what was read.
	r = NewLimitedInflater(bytes.NewReader(bomb), InflationLimit{MaxRatio: 100})
	n, err = io.Copy(io.Discard, r)
	if !errors.Is(err, ErrInflationLimit) || n > RatioSlack+100*64<<10 {
		t.Fatalf("ratio: %d inflated, %v", n, err)
	}
	// Corrupt and truncated streams are format errors.
	bad := deflate(data)
	for name, b := range map[string][]byte{"truncated": bad[:len(bad)/2], "corrupt": append([]byte{0xff, 0xff}, bad...)} {
		_, err := io.Copy(io.Discard, NewLimitedInflater(bytes.NewReader(b), InflationLimit{}))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// feed writes b to c in pieces of random sizes and returns the first error.
func feed(c *InflationCheck, b []byte, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 7))
	for len(b) > 0 {
		k := min(len(b), 1+r.IntN(70000))
		if _, err := c.Write(b[:k]); err != nil {
			c.Abort()
			return err
		}
		b = b[k:]
	}
	return c.Close()
}

func TestInflationCheck(t *testing.T) {
	data := noisy(2 << 20)
	lim := InflationLimit{MaxBytes: 64 << 20, MaxRatio: 100}
	d := deflate(data)
	if err := feed(NewInflationCheck(lim), d, 1); err != nil {
		t.Fatalf("valid stream: %v", err)
	}
	// PS3.5 §A.5: a NUL pads an odd length.
	c := NewInflationCheck(lim)
	if err := feed(c, append(d, 0), 2); err != nil || c.Inflated() != int64(len(data)) {
		t.Fatalf("padded stream: %d inflated, %v", c.Inflated(), err)
	}
	if err := feed(NewInflationCheck(lim), d[:len(d)-100], 3); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated stream: %v", err)
	}
	// A bomb is refused while it is being written, long before its end.
	bomb := deflateBomb(t, nil, 1024)
	c = NewInflationCheck(InflationLimit{MaxBytes: 64 << 20})
	var written int
	var err error
	for written < len(bomb) && err == nil {
		k := min(16<<10, len(bomb)-written)
		_, err = c.Write(bomb[written : written+k])
		written += k
	}
	if !errors.Is(err, ErrInflationLimit) || written > len(bomb)/8 {
		t.Fatalf("bomb: %v after %d of %d bytes", err, written, len(bomb))
	}
	c.Abort()
	if c.Inflated() > 64<<20 {
		t.Errorf("%d bytes inflated for a 64 MiB limit", c.Inflated())
	}
	// Abandoned half-way: Abort ends the goroutine.
	c = NewInflationCheck(lim)
	c.Write(d[:len(d)/2])
	c.Abort()
}

// FuzzInflationCheck: any bytes, written in any pieces, get a verdict (no
// panic, no hang) that agrees with reading them whole through the limited
// inflater.
func FuzzInflationCheck(f *testing.F) {
	f.Add(deflate([]byte("a data set")), uint64(1))
	f.Add(deflateBomb(f, []byte("x"), 3), uint64(2))
	f.Add([]byte{0x03, 0x00, 0x00}, uint64(3))
	f.Add([]byte{0xff}, uint64(4))
	// The ratio is left out: how far the inflater reads ahead, and so the
	// deflated count, depends on the pieces.
	lim := InflationLimit{MaxBytes: 256 << 10}
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		got := feed(NewInflationCheck(lim), b, seed)
		_, want := io.Copy(io.Discard, NewLimitedInflater(bytes.NewReader(b), lim))
		if errors.Is(got, ErrInflationLimit) != errors.Is(want, ErrInflationLimit) ||
			errors.Is(got, ErrMalformed) != errors.Is(want, ErrMalformed) || (got == nil) != (want == nil) {
			t.Fatalf("in pieces: %v; whole: %v", got, want)
		}
	})
}
