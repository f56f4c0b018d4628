package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/num/fft"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

// zeroFilled is the test's handler: config "zero-filled" only; it
// assembles the k-space with package mrd and returns one root-sum-of-
// squares float image per slice of each volume (x along the readout).
type zeroFilled struct {
	fail error // Reconstruct's error, when set
	got  *Request
}

func (h *zeroFilled) Configure(_ context.Context, c Config) error {
	if c.IsText || c.Name != "zero-filled" {
		return fmt.Errorf("unknown config")
	}
	return nil
}

func (h *zeroFilled) Reconstruct(_ context.Context, req *Request, send func(*Image) error) error {
	h.got = req
	if h.fail != nil {
		return h.fail
	}
	out, err := h.images(req)
	if err != nil {
		return err
	}
	for _, im := range out {
		if err := send(im); err != nil {
			return err
		}
	}
	return nil
}

func (h *zeroFilled) images(req *Request) ([]*Image, error) {
	vols, _, err := mrd.Assemble(req.Header, req.Acquisitions, mrd.Options{})
	if err != nil {
		return nil, err
	}
	var out []*Image
	for vi, v := range vols {
		n := v.Rows * v.Cols
		img := make([]complex64, n)
		for s := 0; s < v.Slices; s++ {
			rss := make([]float64, n)
			for c := 0; c < v.Coils; c++ {
				k := v.Data[(s*v.Coils+c)*n : (s*v.Coils+c+1)*n]
				if err := fft.IFFT2c(img, k, v.Rows, v.Cols); err != nil {
					return nil, err
				}
				for i, z := range img {
					rss[i] += float64(real(z)*real(z) + imag(z)*imag(z))
				}
			}
			nx, ny := v.ImageRows, v.ImageCols
			r0, c0 := (v.Rows-nx)/2, (v.Cols-ny)/2
			pix := make([]float32, nx*ny)
			for x := 0; x < nx; x++ {
				for y := 0; y < ny; y++ {
					pix[y*nx+x] = float32(math.Sqrt(rss[(x+r0)*v.Cols+y+c0]))
				}
			}
			im, err := NewFloatImage(nx, ny, 1, 1, pix)
			if err != nil {
				return nil, err
			}
			im.Head.Slice = uint16(s)
			im.Head.Repetition = uint16(v.Repetition)
			im.Head.ImageIndex = uint16(len(out) + 1)
			im.Head.ImageSeriesIndex = uint16(vi)
			out = append(out, im)
		}
	}
	return out, nil
}

// serve runs one Session on a loopback TCP listener; the client function
// gets the connection. It returns the session's summary and error, and
// what the client read back until the server closed the connection.
func serve(t *testing.T, ctx context.Context, h Handler, lim Limits, client func(c *net.TCPConn)) (*Summary, error, []*Message, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{nil, err}
			return
		}
		sum, err := (&Session{Conn: c, Handler: h, Limits: lim, ReplyTimeout: 2 * time.Second}).Run(ctx)
		// a lingering close, as a server should do it: closing with
		// unread input would reset the connection and could lose the
		// ERROR reply on its way to the client
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
		c.Close()
		done <- result{sum, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	go client(tc)
	// read the replies while the client writes
	var replies []*Message
	d := NewDecoder(tc, Limits{})
	var rerr error
	for {
		m, err := d.Next()
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
		replies = append(replies, m)
	}
	c.Close() // ends the server's lingering close
	select {
	case r := <-done:
		return r.sum, r.err, replies, rerr
	case <-time.After(60 * time.Second):
		t.Fatal("the session did not end")
	}
	return nil, nil, nil, nil
}

// generate writes a phantom with Debian's ismrmrd-tools generator.
func generate(t *testing.T, args ...string) string { return peers.MRDPhantom(t, args...) }

// streamFile sends an MRD file as client.py does: the config name, the
// XML header, a TEXT (client.py's configAdditional), the acquisitions,
// CLOSE.
func streamFile(t *testing.T, c io.Writer, f *mrd.File, config string) error {
	e := NewEncoder(c)
	if err := e.WriteConfigFile(config); err != nil {
		return err
	}
	if err := e.WriteHeader(f.Header.Raw); err != nil {
		return err
	}
	if err := e.WriteText(`{"parameters": {}}`); err != nil {
		return err
	}
	if err := e.WriteWaveform(&Waveform{Head: WaveformHeader{NumberOfSamples: 4, Channels: 1}, Data: []uint32{1, 2, 3, 4}}); err != nil {
		return err
	}
	for i := 0; i < f.Len(); i++ {
		h, err := f.Head(i)
		if err != nil {
			return err
		}
		data, err := f.Data(i, nil)
		if err != nil {
			return err
		}
		a := &mrd.Acquisition{Head: h, Data: data, Traj: make([]float32, int(h.NumberOfSamples)*int(h.TrajectoryDimensions))}
		if err := e.WriteAcquisition(a); err != nil {
			return err
		}
	}
	return e.WriteClose()
}

// TestSessionPhantom: a client streams the generator's phantom (64², 4
// coils, readout oversampling 2, a noise scan; and 2× accelerated with 16
// ACS lines, 2 repetitions) over loopback TCP; the session collects it,
// the test handler assembles and zero-fills it, and the images come back,
// one per volume, 64 × 64, correlated with the generator's ground truth.
//
// Measured (ismrmrd-tools 1.8.0): R1 correlation 0.998 (RSS of the
// prewhitened coils against |phantom| · ‖csm‖); R2 zero-filled, aliased,
// 0.933 and 0.936 for the two interleaves.
func TestSessionPhantom(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		images int
		corr   float64
	}{
		{"R1 oversampled, noise scan", []string{"-m", "64", "-c", "4", "-O", "2", "-n", "0.01", "-C"}, 1, 0.995},
		{"R2 ACS 16, 2 repetitions", []string{"-m", "64", "-c", "4", "-O", "2", "-n", "0.01", "-C", "-a", "2", "-w", "16", "-r", "2"}, 4, 0.9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := mrd.Open(generate(t, c.args...), "")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ref, n := peers.MRDTruth(t, f)
			h := &zeroFilled{}
			cerr := make(chan error, 1)
			sum, err, replies, rerr := serve(t, context.Background(), h, Limits{}, func(conn *net.TCPConn) {
				cerr <- streamFile(t, conn, f, "zero-filled")
			})
			if err != nil || rerr != nil || <-cerr != nil {
				t.Fatalf("session: %v; client reading: %v", err, rerr)
			}
			if sum.Acquisitions != f.Len() || sum.Waveforms != 1 || sum.Texts != 1 || !sum.ClientClosed || !sum.ServerClosed || sum.Error != "" {
				t.Errorf("summary %+v, want %d acquisitions", sum, f.Len())
			}
			if len(h.got.Texts) != 1 || h.got.Texts[0] != `{"parameters": {}}` || h.got.Config.Name != "zero-filled" {
				t.Errorf("request texts %q, config %+v", h.got.Texts, h.got.Config)
			}
			if len(replies) != c.images+1 || replies[len(replies)-1].ID != IDClose {
				t.Fatalf("%d replies, want %d images and CLOSE", len(replies), c.images)
			}
			for i, m := range replies[:c.images] {
				if m.ID != IDImage {
					t.Fatalf("reply %d is %v", i, m.ID)
				}
				im := m.Image
				if im.Head.MatrixSize != [3]uint16{uint16(n), uint16(n), 1} || im.Head.DataType != Float || im.Head.ImageType != Magnitude {
					t.Fatalf("image %d: %v of %v", i, im.Head.MatrixSize, im.Head.DataType)
				}
				pix, err := im.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				r := peers.Correlation(ref, pix)
				// the same pixels transposed: an image sent with x and y
				// swapped would correlate this well, and must not pass
				tr := make([]float32, len(pix))
				for x := 0; x < n; x++ {
					for y := 0; y < n; y++ {
						tr[x*n+y] = pix[y*n+x]
					}
				}
				rt := peers.Correlation(ref, tr)
				t.Logf("image %d (repetition %d, series %d): correlation %.4f (transposed %.4f)", i, im.Head.Repetition, im.Head.ImageSeriesIndex, r, rt)
				if r < c.corr || rt >= c.corr {
					t.Errorf("image %d: correlation %.4f with the phantom (transposed %.4f), want ≥ %.3f (and the transposed below)", i, r, rt, c.corr)
				}
			}
		})
	}
}

// rawClient writes b, then closes its write side (or the whole
// connection).
func rawClient(b []byte, closeAll bool) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		c.Write(b)
		if closeAll {
			c.Close()
		} else {
			c.CloseWrite()
		}
	}
}

// TestSessionErrors: garbage, a truncated acquisition, an oversized
// header length, an unknown id, a disconnect mid-stream, an unknown
// config, the handler's error and messages out of order each end the
// session with an error that says so, never a panic; the client gets an
// ERROR text and CLOSE where it can still read.
func TestSessionErrors(t *testing.T) {
	le := binary.LittleEndian
	var pre bytes.Buffer // config and a header
	e := NewEncoder(&pre)
	e.WriteConfigFile("zero-filled")
	e.WriteHeader(testHeader)
	acq := testAcquisition(64, 2, 0)
	var one bytes.Buffer
	NewEncoder(&one).WriteAcquisition(acq)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var unknownConfig bytes.Buffer
	e = NewEncoder(&unknownConfig)
	e.WriteConfigFile("no-such-recon")
	e.WriteHeader(testHeader)
	for i := 0; i < 50; i++ {
		e.WriteAcquisition(acq)
	}
	e.WriteClose()
	var noHeader bytes.Buffer
	e = NewEncoder(&noHeader)
	e.WriteConfigFile("zero-filled")
	e.WriteAcquisition(acq)
	var dummyHeader bytes.Buffer
	e = NewEncoder(&dummyHeader)
	e.WriteConfigFile("zero-filled")
	e.WriteHeader("Dummy XML header")
	e.WriteClose()
	var closeOnly bytes.Buffer
	e = NewEncoder(&closeOnly)
	e.WriteConfigFile("zero-filled")
	e.WriteHeader(testHeader)
	e.WriteClose()

	cases := []struct {
		name     string
		in       []byte
		closeAll bool
		handler  *zeroFilled
		err      error
		words    string
		reply    string // the ERROR text's start; "" for none expected
	}{
		{"garbage", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello"), false, nil, ErrUnknownID, "unknown MRD message id 790", "ERROR unknown MRD message id 790"},
		{"truncated acquisition", cat(pre.Bytes(), one.Bytes()[:500]), false, nil, ErrTruncated, "samples of ISMRMRD_ACQUISITION", ""},
		{"oversized header", cat(le.AppendUint16(nil, 1), make([]byte, 1024)[:0], one.Bytes()[:0], []byte("zero-filled"), make([]byte, 1024-11), le.AppendUint16(nil, 3), le.AppendUint32(nil, 1<<30)), false, nil, ErrOversized, "XML header of 1073741824 bytes > limit 1048576", "ERROR oversized"},
		{"unknown id", cat(pre.Bytes(), le.AppendUint16(nil, 1030), make([]byte, 64)), false, nil, ErrUnknownID, "unknown MRD message id 1030", "ERROR unknown MRD message id 1030"},
		{"disconnect mid-stream", cat(pre.Bytes(), one.Bytes(), one.Bytes()), true, nil, ErrDisconnected, "before its CLOSE (2 acquisitions received)", ""},
		{"unknown config", unknownConfig.Bytes(), false, nil, ErrRefused, `config "no-such-recon": unknown config`, `ERROR config "no-such-recon": unknown config`},
		{"handler error", closeOnly.Bytes(), false, &zeroFilled{fail: errors.New("no acquisitions to reconstruct")}, ErrRefused, "no acquisitions", "ERROR no acquisitions to reconstruct"},
		{"acquisition before the header", noHeader.Bytes(), false, nil, ErrProtocol, "before the XML header", "ERROR MRD protocol violation"},
		{"header that is no XML", dummyHeader.Bytes(), false, nil, ErrRefused, "header", "ERROR "},
		{"empty", nil, false, nil, ErrDisconnected, "before its CLOSE (0", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.handler
			if h == nil {
				h = &zeroFilled{}
			}
			// the per-message limits stay the defaults; the oversized
			// header is 1 GiB announced and never sent
			sum, err, replies, rerr := serve(t, context.Background(), h, Limits{}, rawClient(c.in, c.closeAll))
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.words) {
				t.Fatalf("session error %v, want %v with %q", err, c.err, c.words)
			}
			t.Logf("%v; replies %d, %v", err, len(replies), rerr)
			if c.reply == "" {
				return
			}
			if len(replies) != 2 || replies[0].ID != IDText || !strings.HasPrefix(replies[0].Text, c.reply) || replies[1].ID != IDClose {
				t.Fatalf("replies %+v (%v), want TEXT %q… and CLOSE", replies, rerr, c.reply)
			}
			if sum.Error != replies[0].Text || !sum.ServerClosed {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

// TestSessionCancel: a client that sends nothing does not hold the
// session once its context ends.
func TestSessionCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err, _, _ := serve(t, ctx, &zeroFilled{}, Limits{}, func(c *net.TCPConn) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("session error %v, want the context's", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the session took %v to end", d)
	}
}

// testHeader is a minimal valid ISMRMRD header: 64 × 64, 2D Cartesian.
const testHeader = `<?xml version="1.0"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <encoding>
    <encodedSpace><matrixSize><x>64</x><y>64</y><z>1</z></matrixSize><fieldOfView_mm><x>256</x><y>256</y><z>5</z></fieldOfView_mm></encodedSpace>
    <reconSpace><matrixSize><x>64</x><y>64</y><z>1</z></matrixSize><fieldOfView_mm><x>256</x><y>256</y><z>5</z></fieldOfView_mm></reconSpace>
    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>63</maximum><center>32</center></kspace_encoding_step_1></encodingLimits>
    <trajectory>cartesian</trajectory>
  </encoding>
</ismrmrdHeader>`

// TestSessionBounds: a session past MaxAcquisitions or MaxBytes ends with
// ErrOversized and an ERROR reply, whatever its messages' sizes.
func TestSessionBounds(t *testing.T) {
	var in bytes.Buffer
	e := NewEncoder(&in)
	e.WriteConfigFile("zero-filled")
	e.WriteHeader(testHeader)
	for i := 0; i < 10; i++ {
		e.WriteAcquisition(testAcquisition(0, 0, 0)) // no samples: only the header counts
	}
	e.WriteClose()
	for _, c := range []struct {
		name     string
		maxAcq   int
		maxBytes int64
		words    string
	}{
		{"acquisitions", 5, 0, "session of more than 5 acquisitions"},
		{"bytes", 0, 4 * acquisitionOverhead, fmt.Sprintf("session of more than %d bytes of acquisitions", 4*acquisitionOverhead)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			s := &Session{Conn: struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(in.Bytes()), &out}, Handler: &zeroFilled{}, MaxAcquisitions: c.maxAcq, MaxBytes: c.maxBytes}
			sum, err := s.Run(context.Background())
			if !errors.Is(err, ErrOversized) || !strings.Contains(err.Error(), c.words) {
				t.Fatalf("session error %v, want ErrOversized with %q", err, c.words)
			}
			replies := decodeAll(NewDecoder(&out, Limits{}))
			if len(replies) != 2 || !strings.HasPrefix(replies[0].Text, "ERROR oversized") || replies[1].ID != IDClose || sum.ClientClosed {
				t.Fatalf("replies %+v, summary %+v", replies, sum)
			}
		})
	}
}

// twoSeries sends one image, waits until the test's client has read it,
// then sends a second: a session that kept the images until Reconstruct
// returned would never let the client see the first, and the handler
// gives up after a while and fails.
type twoSeries struct{ read chan struct{} }

func (twoSeries) Configure(context.Context, Config) error { return nil }

func (h twoSeries) Reconstruct(ctx context.Context, _ *Request, send func(*Image) error) error {
	for i := 0; i < 2; i++ {
		im, err := NewFloatImage(2, 1, 1, 1, []float32{float32(i), 1})
		if err != nil {
			return err
		}
		im.Head.ImageSeriesIndex = uint16(i)
		if err := send(im); err != nil {
			return err
		}
		if i == 0 {
			select {
			case <-h.read:
			case <-time.After(10 * time.Second):
				return errors.New("the client did not get the first image before Reconstruct returned")
			}
		}
	}
	return nil
}

// TestSessionStreamsImages: each image goes to the client when the handler
// hands it over, not when the reconstruction ends; then CLOSE.
func TestSessionStreamsImages(t *testing.T) {
	srv, cli := net.Pipe() // unbuffered: a write completes only when the other side reads
	defer cli.Close()
	h := twoSeries{read: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := (&Session{Conn: srv, Handler: h}).Run(context.Background())
		srv.Close()
		done <- err
	}()
	go func() {
		e := NewEncoder(cli)
		e.WriteConfigFile("any")
		e.WriteHeader(testHeader)
		e.WriteClose()
	}()
	d := NewDecoder(cli, Limits{})
	var got []ID
	for {
		m, err := d.Next()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, m.ID)
		if m.ID == IDImage && len(got) == 1 {
			close(h.read)
		}
		if m.ID == IDClose || m.ID == IDText {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("session: %v (messages %v)", err, got)
	}
	if len(got) != 3 || got[0] != IDImage || got[1] != IDImage || got[2] != IDClose {
		t.Errorf("messages %v, want IMAGE, IMAGE, CLOSE", got)
	}
}
