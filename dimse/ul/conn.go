package ul

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/tweedie-recon/tweedie/dimse/pdu"
)

// DefaultARTIM is the association request/reject/release timer, PS3.8 §9.1.5.
const DefaultARTIM = 30 * time.Second

// DefaultWriteTimeout bounds each write when Config.WriteTimeout is zero.
const DefaultWriteTimeout = 60 * time.Second

// Config holds the upper-layer parameters of one connection.
type Config struct {
	// ARTIM bounds the wait for an A-ASSOCIATE-RQ after the transport opens,
	// and the wait for the peer to close after a reject, release or abort.
	ARTIM time.Duration
	// MaxReceivePDU is the maximum P-DATA-TF length this node announced.
	MaxReceivePDU uint32
	// WriteTimeout bounds each write of a PDU to the transport. A peer that
	// stops reading fills the socket buffers and would otherwise hold the
	// writer, and the lock that serialises writes, forever; when it expires
	// the transport is closed and the association ends as after a transport
	// failure (Evt17, A-P-ABORT, PS3.8 §7.4). Zero: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Trace, when set, is called for every transition (for debug logging).
	Trace func(from State, e Event, a Action, to State)
}

// Kind says which indication or confirmation primitive Next delivers.
type Kind uint8

// Indications and confirmations delivered to the service user.
const (
	AssociateIndication Kind = iota + 1 // A-ASSOCIATE-RQ received (acceptor)
	AssociateAccepted                   // A-ASSOCIATE-AC received (requestor)
	AssociateRejected                   // A-ASSOCIATE-RJ received (requestor)
	DataIndication                      // P-DATA-TF received
	ReleaseIndication                   // A-RELEASE-RQ received
	ReleaseConfirmation                 // A-RELEASE-RP received; the transport is closed
)

// Indication is a primitive delivered by Next. For DataIndication the PDU's
// PDV data alias the reader's buffer until the next call to Next.
type Indication struct {
	Kind Kind
	PDU  pdu.PDU
}

// AbortError reports that the association ended by an A-ABORT or an
// A-P-ABORT (PS3.8 §7.3 and §7.4).
type AbortError struct {
	Local          bool // this node sent the A-ABORT
	Source, Reason byte
	Cause          error // what made this node abort, if Local
}

func (e *AbortError) Error() string {
	who := "peer"
	if e.Local {
		who = "local"
	}
	src := "service-user"
	if e.Source == pdu.AbortSourceProvider {
		src = "service-provider"
	}
	s := fmt.Sprintf("association aborted by %s (%s source, reason %d)", who, src, e.Reason)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *AbortError) Unwrap() error { return e.Cause }

// Errors reported by Next.
var (
	ErrPeerClosed       = errors.New("peer closed the transport connection")
	ErrARTIMExpired     = errors.New("ARTIM timer expired")
	ErrTimeout          = errors.New("timed out waiting for the peer")
	ErrNotEstablished   = errors.New("no association established")
	ErrInvalidPrimitive = errors.New("primitive not allowed in this state")
	// ErrWriteTimeout: the peer did not take a PDU within the write timeout.
	ErrWriteTimeout = errors.New("peer stopped reading (write timed out)")
)

// Conn is the upper-layer provider of one association: it owns the transport
// connection and the state machine. Next is called from one goroutine (the
// association's reader); the send primitives may be called from the same
// goroutine, and Abort from any goroutine.
type Conn struct {
	nc        net.Conn
	rd        *pdu.Reader
	cfg       Config
	requestor bool

	rmu sync.Mutex // held while reading

	mu          sync.Mutex // guards the fields below and serialises writes
	state       State
	artimAt     time.Time // zero when ARTIM is stopped
	readTimeout time.Duration
	terminal    error // why the association ended, once it has
}

func newConn(nc net.Conn, cfg Config, requestor bool) *Conn {
	if cfg.ARTIM <= 0 {
		cfg.ARTIM = DefaultARTIM
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	c := &Conn{nc: nc, cfg: cfg, requestor: requestor, state: Sta1}
	// A read buffer turns the header-then-body reads of small PDUs (commands,
	// responses) into one system call and fewer scheduler wake-ups.
	c.rd = pdu.NewReader(bufio.NewReaderSize(nc, 64<<10), cfg.MaxReceivePDU)
	return c
}

// Accept runs Evt5 for a transport connection accepted by a listener:
// AE-5 issues the transport response and starts ARTIM (→ Sta2).
func Accept(nc net.Conn, cfg Config) *Conn {
	c := newConn(nc, cfg, false)
	c.mu.Lock()
	c.fire(Evt5)
	c.mu.Unlock()
	return c
}

// Request runs Evt1 and Evt2 on a transport connection already opened by the
// caller (AE-1 is the caller's dial) and sends the A-ASSOCIATE-RQ (AE-2, → Sta5).
// The confirmation arrives from Next as AssociateAccepted or AssociateRejected.
func Request(nc net.Conn, cfg Config, rq *pdu.AssociateRQ) (*Conn, error) {
	c := newConn(nc, cfg, true)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fire(Evt1) // AE-1 → Sta4: the caller has already connected
	c.fire(Evt2) // AE-2 → Sta5
	if err := c.write(rq); err != nil {
		c.closeTransport()
		return nil, fmt.Errorf("sending A-ASSOCIATE-RQ: %w", err)
	}
	return c, nil
}

// State returns the current state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// RemoteAddr is the peer's transport address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetMaxReceivePDU changes the P-DATA-TF limit (after negotiation).
func (c *Conn) SetMaxReceivePDU(n uint32) { c.rd.MaxPData = n }

// SetReadTimeout bounds each wait for a PDU once the association is
// established (the DIMSE and idle timeouts); zero waits forever.
func (c *Conn) SetReadTimeout(d time.Duration) {
	c.mu.Lock()
	c.readTimeout = d
	c.mu.Unlock()
}

// fire looks up the action for event e in the current state and moves to the
// next state. Sending and indication are done by the caller, which knows the
// PDU; fire only keeps the machine and the ARTIM timer. c.mu is held.
func (c *Conn) fire(e Event) Action {
	from := c.state
	a, ok := Transition(from, e)
	if !ok {
		return noAction
	}
	to := nextState[a]
	switch a {
	case AE5, AE8, AR4, AA1, AA8:
		c.artimAt = time.Now().Add(c.cfg.ARTIM) // start (or restart) ARTIM
	case AE6, AR5, AA2, AA5:
		c.artimAt = time.Time{}
	}
	switch a {
	case AE6:
		to = Sta3 // acceptability is decided by the caller (see Next)
	case AR8:
		if c.requestor {
			to = Sta9
		} else {
			to = Sta10
		}
	}
	c.state = to
	if c.cfg.Trace != nil {
		c.cfg.Trace(from, e, a, to)
	}
	return a
}

// write sends one PDU; c.mu is held.
func (c *Conn) write(p pdu.PDU) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	_, err := c.nc.Write(pdu.Encode(p))
	return c.writeFailed(err)
}

// writeFailed ends the association after a failed write: part of a PDU may
// have been sent, so the stream is unusable. It is a transport failure, Evt17
// (AA-4 in most states: A-P-ABORT indication, → Sta1), whatever the peer
// sees. c.mu is held; nil passes through.
func (c *Conn) writeFailed(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w after %s: %v", ErrWriteTimeout, c.cfg.WriteTimeout, err)
	} else {
		err = fmt.Errorf("writing to the peer: %w", err)
	}
	if c.state != Sta1 {
		c.fire(Evt17)
		c.state = Sta1
	}
	c.artimAt = time.Time{}
	c.closeTransport()
	c.setTerminal(err)
	return err
}

func (c *Conn) closeTransport() { _ = c.nc.Close() }

// Next reads PDUs and runs the state machine until it has a primitive for the
// service user. It returns an error once the association has ended, for
// whatever reason (abort, peer close, timeout, protocol violation).
func (c *Conn) Next() (Indication, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		c.mu.Lock()
		if c.state == Sta1 {
			err := c.terminal
			c.mu.Unlock()
			if err == nil {
				err = ErrNotEstablished
			}
			return Indication{}, err
		}
		if c.state == Sta13 {
			c.mu.Unlock()
			c.awaitClose()
			continue
		}
		var deadline time.Time
		if !c.artimAt.IsZero() {
			deadline = c.artimAt
		} else if c.readTimeout > 0 {
			deadline = time.Now().Add(c.readTimeout)
		}
		c.mu.Unlock()
		_ = c.nc.SetReadDeadline(deadline)

		p, err := c.rd.Next()

		c.mu.Lock()
		ind, done, rerr := c.handle(p, err)
		c.mu.Unlock()
		if done {
			return ind, rerr
		}
	}
}

// handle maps a read result to an event and performs the action; c.mu is held.
func (c *Conn) handle(p pdu.PDU, rerr error) (Indication, bool, error) {
	if c.state == Sta13 || c.state == Sta1 {
		// Abort from another goroutine changed the state while reading.
		return Indication{}, false, nil
	}
	if rerr != nil {
		var ne net.Error
		switch {
		case errors.As(rerr, &ne) && ne.Timeout() || errors.Is(rerr, os.ErrDeadlineExceeded):
			if !c.artimAt.IsZero() {
				c.fire(Evt18) // AA-2: close transport → Sta1
				c.closeTransport()
				c.setTerminal(ErrARTIMExpired)
				return Indication{}, true, c.terminal
			}
			c.abortLocked(pdu.AbortSourceUser, pdu.AbortNotSpecified, ErrTimeout)
			return Indication{}, false, nil
		case errors.Is(rerr, pdu.ErrMalformed), errors.Is(rerr, pdu.ErrUnknownType), errors.Is(rerr, pdu.ErrTooLarge):
			reason := pdu.AbortInvalidPDUParamValue
			if errors.Is(rerr, pdu.ErrUnknownType) {
				reason = pdu.AbortUnrecognizedPDU
			}
			a := c.fire(Evt19)
			if a == AA1 || a == AA7 || a == AA8 {
				src := pdu.AbortSourceProvider
				if a == AA1 {
					src = pdu.AbortSourceUser
				}
				_ = c.write(&pdu.Abort{Source: src, Reason: reason})
			}
			c.setTerminal(&AbortError{Local: true, Source: pdu.AbortSourceProvider, Reason: reason, Cause: rerr})
			return Indication{}, false, nil
		default: // EOF, reset: transport closed (Evt17)
			c.fire(Evt17)
			c.closeTransport()
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				rerr = ErrPeerClosed
			}
			c.setTerminal(fmt.Errorf("%w (in %s)", rerr, stateShort(c)))
			return Indication{}, true, c.terminal
		}
	}
	var ev Event
	switch p.Type() {
	case pdu.TypeAssociateAC:
		ev = Evt3
	case pdu.TypeAssociateRJ:
		ev = Evt4
	case pdu.TypeAssociateRQ:
		ev = Evt6
	case pdu.TypePData:
		ev = Evt10
	case pdu.TypeReleaseRQ:
		ev = Evt12
	case pdu.TypeReleaseRP:
		ev = Evt13
	case pdu.TypeAbort:
		ev = Evt16
	}
	a := c.fire(ev)
	switch a {
	case AE3:
		return Indication{Kind: AssociateAccepted, PDU: p}, true, nil
	case AE4:
		c.closeTransport()
		rj := p.(*pdu.AssociateRJ)
		c.setTerminal(fmt.Errorf("association rejected (result %d, source %d, reason %d)", rj.Result, rj.Source, rj.Reason))
		return Indication{Kind: AssociateRejected, PDU: p}, true, nil
	case AE6:
		rq := p.(*pdu.AssociateRQ)
		if rq.ProtocolVersion&1 == 0 {
			// Not acceptable to the provider: PS3.8 §9.3.2 protocol version bit 0.
			c.state = Sta13
			c.artimAt = time.Now().Add(c.cfg.ARTIM)
			_ = c.write(&pdu.AssociateRJ{Result: pdu.RejectPermanent, Source: pdu.RejectSourceProviderACSE, Reason: pdu.RejectProtocolVersionNotSupp})
			c.setTerminal(errors.New("A-ASSOCIATE-RQ with unsupported protocol version"))
			return Indication{}, false, nil
		}
		return Indication{Kind: AssociateIndication, PDU: p}, true, nil
	case DT2, AR6:
		return Indication{Kind: DataIndication, PDU: p}, true, nil
	case AR2, AR8:
		return Indication{Kind: ReleaseIndication, PDU: p}, true, nil
	case AR3:
		c.closeTransport()
		c.setTerminal(errors.New("association released"))
		return Indication{Kind: ReleaseConfirmation, PDU: p}, true, nil
	case AR10:
		return Indication{Kind: ReleaseConfirmation, PDU: p}, true, nil
	case AA1, AA7, AA8:
		src := pdu.AbortSourceProvider
		if a == AA1 {
			src = pdu.AbortSourceUser
		}
		_ = c.write(&pdu.Abort{Source: src, Reason: pdu.AbortUnexpectedPDU})
		c.setTerminal(&AbortError{Local: true, Source: src, Reason: pdu.AbortUnexpectedPDU,
			Cause: fmt.Errorf("unexpected %s", p.Type())})
		return Indication{}, false, nil
	case AA2, AA3:
		c.closeTransport()
		if ab, ok := p.(*pdu.Abort); ok {
			c.setTerminal(&AbortError{Source: ab.Source, Reason: ab.Reason})
		} else {
			c.setTerminal(fmt.Errorf("unexpected %s", p.Type()))
		}
		return Indication{}, true, c.terminal
	case AA6:
		return Indication{}, false, nil
	}
	c.closeTransport()
	c.state = Sta1
	c.setTerminal(fmt.Errorf("%s not handled in this state", p.Type()))
	return Indication{}, true, c.terminal
}

func stateShort(c *Conn) string { return c.state.String() }

func (c *Conn) setTerminal(err error) {
	if c.terminal == nil {
		c.terminal = err
	}
}

// awaitClose is Sta13: this node has sent A-ASSOCIATE-RJ, A-RELEASE-RP or
// A-ABORT and waits, at most until ARTIM expires, for the peer to close. It
// half-closes first so that the peer sees the last PDU before any reset, and
// discards whatever the peer still sends (AA-6; a broken peer that sends an
// A-ASSOCIATE-RQ here would earn an AA-7 abort, but it has had one already).
func (c *Conn) awaitClose() {
	c.mu.Lock()
	deadline := c.artimAt
	if deadline.IsZero() {
		deadline = time.Now().Add(c.cfg.ARTIM)
	}
	c.mu.Unlock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, io.LimitReader(c.nc, 1<<30))
	c.mu.Lock()
	if err == nil {
		c.fire(Evt17) // AR-5 → Sta1
	} else {
		c.fire(Evt18) // AA-2 → Sta1
	}
	c.state = Sta1
	c.closeTransport()
	c.setTerminal(ErrPeerClosed)
	c.mu.Unlock()
}

// AcceptAssociation sends the A-ASSOCIATE-AC (Evt7, AE-7 → Sta6).
func (c *Conn) AcceptAssociation(ac *pdu.AssociateAC) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, _ := Transition(c.state, Evt7); a != AE7 {
		return fmt.Errorf("%w: A-ASSOCIATE accept in %s", ErrInvalidPrimitive, c.state)
	}
	c.fire(Evt7)
	return c.write(ac)
}

// RejectAssociation sends the A-ASSOCIATE-RJ (Evt8, AE-8 → Sta13) and waits
// for the peer to close, at most ARTIM.
func (c *Conn) RejectAssociation(rj *pdu.AssociateRJ) error {
	c.mu.Lock()
	if a, _ := Transition(c.state, Evt8); a != AE8 {
		c.mu.Unlock()
		return fmt.Errorf("%w: A-ASSOCIATE reject in %s", ErrInvalidPrimitive, c.state)
	}
	c.fire(Evt8)
	err := c.write(rj)
	c.setTerminal(errors.New("association rejected"))
	c.mu.Unlock()
	c.awaitClose()
	return err
}

// SendPData sends one PDV as a P-DATA-TF PDU (Evt9: DT-1 in Sta6, AR-7 in Sta8).
func (c *Conn) SendPData(contextID, header byte, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, _ := Transition(c.state, Evt9)
	if a != DT1 && a != AR7 {
		if c.terminal != nil {
			return c.terminal
		}
		return fmt.Errorf("%w: P-DATA in %s", ErrInvalidPrimitive, c.state)
	}
	c.fire(Evt9)
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	return c.writeFailed(pdu.WritePData(c.nc, contextID, header, data))
}

// Release sends an A-RELEASE-RQ (Evt11, AR-1 → Sta7) and waits for the
// A-RELEASE-RP; P-DATA that still arrives (AR-6) is discarded, since this
// node has no outstanding operations when it releases.
func (c *Conn) Release() error {
	c.mu.Lock()
	if a, _ := Transition(c.state, Evt11); a != AR1 {
		c.mu.Unlock()
		return fmt.Errorf("%w: A-RELEASE in %s", ErrInvalidPrimitive, c.state)
	}
	c.fire(Evt11)
	if err := c.write(&pdu.ReleaseRQ{}); err != nil {
		c.mu.Unlock()
		return err
	}
	if c.readTimeout == 0 || c.readTimeout > c.cfg.ARTIM {
		c.readTimeout = c.cfg.ARTIM
	}
	c.mu.Unlock()
	for {
		ind, err := c.Next()
		if err != nil {
			return err
		}
		switch ind.Kind {
		case ReleaseConfirmation:
			if c.State() == Sta12 { // collision, acceptor side: answer it (AR-4)
				return c.RespondRelease()
			}
			return nil
		case ReleaseIndication: // collision, requestor side (Sta9): AR-9 → Sta11
			c.mu.Lock()
			c.fire(Evt14)
			err := c.write(&pdu.ReleaseRP{})
			c.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
}

// RespondRelease answers an A-RELEASE-RQ with an A-RELEASE-RP (Evt14: AR-4
// → Sta13) and waits for the peer to close.
func (c *Conn) RespondRelease() error {
	c.mu.Lock()
	if a, _ := Transition(c.state, Evt14); a != AR4 {
		c.mu.Unlock()
		return fmt.Errorf("%w: A-RELEASE response in %s", ErrInvalidPrimitive, c.state)
	}
	c.fire(Evt14)
	err := c.write(&pdu.ReleaseRP{})
	c.setTerminal(errors.New("association released"))
	c.mu.Unlock()
	if c.rmu.TryLock() {
		c.awaitClose()
		c.rmu.Unlock()
	}
	return err
}

// Abort sends an A-ABORT (Evt15: AA-1 → Sta13, or AA-2 in Sta4) with the
// given source and reason, and ends the association. It may be called from
// any goroutine; a reader blocked in Next returns an error.
func (c *Conn) Abort(source, reason byte, cause error) {
	c.mu.Lock()
	c.abortLocked(source, reason, cause)
	c.mu.Unlock()
	if c.rmu.TryLock() {
		c.awaitClose()
		c.rmu.Unlock()
	}
}

func (c *Conn) abortLocked(source, reason byte, cause error) {
	switch a := c.fire(Evt15); a {
	case AA1:
		_ = c.write(&pdu.Abort{Source: source, Reason: reason})
		c.setTerminal(&AbortError{Local: true, Source: source, Reason: reason, Cause: cause})
		_ = c.nc.SetReadDeadline(c.artimAt)
	case AA2:
		c.closeTransport()
		c.setTerminal(&AbortError{Local: true, Source: source, Reason: reason, Cause: cause})
	default:
		// Already ending (Sta1, Sta13): nothing to send.
		if c.state != Sta1 {
			_ = c.nc.SetReadDeadline(time.Now())
		}
	}
}

// Drop closes the transport at once without waiting for the state machine's
// lock, which a writer blocked on a peer that does not read may hold until
// its write timeout. A blocked Next or write returns an error, and the
// association ends as after a transport failure. It is the last resort of a
// shutdown that has given Abort its chance; safe from any goroutine.
func (c *Conn) Drop() { c.closeTransport() }

// Close drops the transport at once; it is for shutdown paths after an abort.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = Sta1
	c.setTerminal(errors.New("connection closed locally"))
	return c.nc.Close()
}
