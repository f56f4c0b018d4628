package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unsafe"

	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

// Config is what the client asked for: a config name (CONFIG_FILE) or a
// config text (CONFIG_TEXT).
type Config struct {
	Name string
	Text string
	// IsText tells a CONFIG_TEXT (Text) from a CONFIG_FILE (Name).
	IsText bool
}

func (c Config) String() string {
	if c.IsText {
		return fmt.Sprintf("config text of %d bytes", len(c.Text))
	}
	return fmt.Sprintf("config %q", c.Name)
}

// Request is one session's input, complete: what Handler.Reconstruct gets.
type Request struct {
	Config       Config
	Header       *mrd.Header // parsed and checked by mrd.ParseHeader; Header.Raw is the XML as sent
	Texts        []string    // the client's TEXT messages (client.py sends its JSON configAdditional as one)
	Acquisitions mrd.Acquisitions
	Waveforms    int // waveforms received (parsed and not kept)
}

// Handler does the work of a session.
type Handler interface {
	// Configure is called as soon as the config arrives, before the data:
	// an error (an unknown config name) goes back to the client as a TEXT
	// "ERROR …" and the session closes without reading the data further.
	Configure(ctx context.Context, c Config) error
	// Reconstruct is called after the client's CLOSE with everything it
	// sent. It hands each image to send as soon as it has one, and send
	// writes it to the client at once (an IMAGE message), so a client sees
	// the first series before the last is done; an error from send means
	// the client can no longer be written to, and Reconstruct returns it.
	// After Reconstruct returns nil the session sends CLOSE; an error goes
	// back as "ERROR …" (after the images already sent), then CLOSE.
	Reconstruct(ctx context.Context, req *Request, send func(*Image) error) error
}

// Errors of Session.Run besides the Decoder's.
var (
	// ErrRefused: the session was refused and the client told so with an
	// ERROR text (config refused, a header that does not parse, images
	// sent for reconstruction, the handler's error).
	ErrRefused = errors.New("MRD session refused")
	// ErrProtocol: messages out of order (data before the config or the
	// header, a second config).
	ErrProtocol = errors.New("MRD protocol violation")
	// ErrDisconnected: the client went away before its CLOSE.
	ErrDisconnected = errors.New("MRD client disconnected")
)

// Session runs the server side of one MRD connection: the client sends a
// config (CONFIG_FILE or CONFIG_TEXT), the XML header, then TEXT,
// waveforms and acquisitions in any order, then CLOSE; the server answers
// with its images, then CLOSE. What is refused gets a TEXT message
// beginning "ERROR" and a CLOSE, as python-ismrmrd-server's server does
// with its logging texts; input that breaks the framing (garbage, a
// truncated or oversized message, an unknown id) ends the session with an
// error after a best-effort ERROR and CLOSE.
type Session struct {
	Conn    io.ReadWriter // a net.Conn: its deadlines, when it has them, carry ctx's cancellation
	Handler Handler
	Limits  Limits // per message; zero fields take DefaultLimits
	// MaxAcquisitions bounds the acquisitions of the session (default
	// mrd.MaxAcquisitions), MaxBytes the memory they hold — headers,
	// trajectories and samples — together (default 4 GiB).
	MaxAcquisitions int
	MaxBytes        int64
	// ReplyTimeout bounds the writing of an ERROR reply to a client that
	// may not be reading (default 10 s).
	ReplyTimeout time.Duration
}

// Summary says what a session did, for the log and the audit trail.
type Summary struct {
	Config                     Config
	Acquisitions, Waveforms    int
	Texts, ImagesIn, ImagesOut int
	Bytes                      int64  // the acquisitions held: headers, trajectories and samples
	Error                      string // the ERROR text sent to the client, if any
	ClientClosed, ServerClosed bool   // CLOSE received, CLOSE sent
}

// acquisitionOverhead is what one acquisition holds besides its samples
// (the header and two slice headers), counted against MaxBytes so that
// acquisitions without samples are bounded too.
const acquisitionOverhead = int64(unsafe.Sizeof(mrd.Acquisition{}))

type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Run runs the session to its end. It returns nil after a session that
// ended with the images and CLOSE; otherwise an error wrapping ErrRefused,
// ErrProtocol, ErrDisconnected or one of the Decoder's errors. It never
// closes Conn: the caller does.
func (s *Session) Run(ctx context.Context) (*Summary, error) {
	sum := &Summary{}
	if dl, ok := s.Conn.(deadliner); ok {
		stop := context.AfterFunc(ctx, func() {
			dl.SetReadDeadline(time.Unix(1, 0))
			dl.SetWriteDeadline(time.Unix(1, 0))
		})
		defer stop()
	}
	err := s.run(ctx, sum)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return sum, err
}

func (s *Session) run(ctx context.Context, sum *Summary) error {
	maxAcq, maxBytes := s.MaxAcquisitions, s.MaxBytes
	if maxAcq <= 0 {
		maxAcq = mrd.MaxAcquisitions
	}
	if maxBytes <= 0 {
		maxBytes = 4 << 30
	}
	d := NewDecoder(s.Conn, s.Limits)
	enc := NewEncoder(s.Conn)
	req := &Request{}
	haveConfig := false
	for {
		m, err := d.Next()
		if err == io.EOF {
			return fmt.Errorf("%w before its CLOSE (%d acquisitions received)", ErrDisconnected, sum.Acquisitions)
		}
		if err != nil {
			if errors.Is(err, ErrTruncated) {
				err = fmt.Errorf("%w: %w", ErrDisconnected, err)
			} else {
				s.reply(enc, sum, err.Error())
			}
			return err
		}
		if !haveConfig && m.ID != IDConfigFile && m.ID != IDConfigText && m.ID != IDText {
			err := fmt.Errorf("%w: %v before the config", ErrProtocol, m.ID)
			s.reply(enc, sum, err.Error())
			return err
		}
		switch m.ID {
		case IDConfigFile, IDConfigText:
			if haveConfig {
				err := fmt.Errorf("%w: a second config (%v)", ErrProtocol, m.ID)
				s.reply(enc, sum, err.Error())
				return err
			}
			haveConfig = true
			req.Config = Config{Name: m.Text, IsText: m.ID == IDConfigText}
			if req.Config.IsText {
				req.Config = Config{Text: m.Text, IsText: true}
			}
			sum.Config = req.Config
			if err := s.Handler.Configure(ctx, req.Config); err != nil {
				return s.refuse(d, enc, sum, fmt.Sprintf("%v: %v", req.Config, err))
			}
		case IDHeader:
			if req.Header != nil {
				err := fmt.Errorf("%w: a second XML header", ErrProtocol)
				s.reply(enc, sum, err.Error())
				return err
			}
			h, err := mrd.ParseHeader([]byte(m.Text))
			if err != nil {
				return s.refuse(d, enc, sum, err.Error())
			}
			req.Header = h
		case IDText:
			sum.Texts++
			req.Texts = append(req.Texts, m.Text)
			if len(req.Texts) > 64 {
				err := fmt.Errorf("%w: more than 64 TEXT messages", ErrProtocol)
				s.reply(enc, sum, err.Error())
				return err
			}
		case IDWaveform:
			sum.Waveforms++
			req.Waveforms++
		case IDImage:
			sum.ImagesIn++
			return s.refuse(d, enc, sum, "image input is not supported: tweedie reconstructs raw data (acquisitions)")
		case IDAcquisition:
			if req.Header == nil {
				err := fmt.Errorf("%w: %v before the XML header", ErrProtocol, m.ID)
				s.reply(enc, sum, err.Error())
				return err
			}
			a := m.Acquisition
			sum.Acquisitions++
			sum.Bytes += acquisitionOverhead + int64(4*len(a.Traj)+8*len(a.Data))
			if sum.Acquisitions > maxAcq || sum.Bytes > maxBytes {
				err := fmt.Errorf("%w: session of more than %d acquisitions", ErrOversized, maxAcq)
				if sum.Bytes > maxBytes {
					err = fmt.Errorf("%w: session of more than %d bytes of acquisitions", ErrOversized, maxBytes)
				}
				s.reply(enc, sum, err.Error())
				return err
			}
			req.Acquisitions = append(req.Acquisitions, *a)
		case IDClose:
			sum.ClientClosed = true
			if req.Header == nil {
				return s.refuse(nil, enc, sum, "CLOSE without an XML header")
			}
			var sendErr error // the connection failed: no ERROR reply can follow
			send := func(im *Image) error {
				if sendErr != nil {
					return sendErr
				}
				if err := enc.WriteImage(im); err != nil {
					sendErr = fmt.Errorf("sending image %d: %w", sum.ImagesOut+1, err)
					return sendErr
				}
				sum.ImagesOut++
				return nil
			}
			err := s.Handler.Reconstruct(ctx, req, send)
			if sendErr != nil {
				return sendErr
			}
			if err != nil {
				return s.refuse(nil, enc, sum, err.Error())
			}
			if err := enc.WriteClose(); err != nil {
				return fmt.Errorf("sending CLOSE: %w", err)
			}
			sum.ServerClosed = true
			return nil
		}
	}
}

// reply sends "ERROR msg" and CLOSE, best effort: within ReplyTimeout
// when Conn has deadlines.
func (s *Session) reply(enc *Encoder, sum *Summary, msg string) {
	text := "ERROR " + strings.TrimSpace(msg)
	sum.Error = text
	if dl, ok := s.Conn.(deadliner); ok {
		t := s.ReplyTimeout
		if t <= 0 {
			t = 10 * time.Second
		}
		dl.SetWriteDeadline(time.Now().Add(t))
		defer dl.SetWriteDeadline(time.Time{})
	}
	if enc.WriteText(text) == nil && enc.WriteClose() == nil {
		sum.ServerClosed = true
	}
}

// refuse answers ERROR and CLOSE, then (with d) reads and drops the rest
// of the client's messages up to its CLOSE, so that a client still
// sending does not fail on a closed connection.
func (s *Session) refuse(d *Decoder, enc *Encoder, sum *Summary, msg string) error {
	s.reply(enc, sum, msg)
	err := fmt.Errorf("%w: %s", ErrRefused, msg)
	if d == nil {
		return err
	}
	for {
		m, derr := d.Next()
		if derr != nil {
			return err
		}
		if m.ID == IDClose {
			sum.ClientClosed = true
			return err
		}
	}
}
