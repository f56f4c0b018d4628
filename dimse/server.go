package dimse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/dimse/ul"
	"github.com/tweedie-recon/tweedie/part10"
)

// ServerConfig configures an acceptor: the negotiation policy, limits,
// timeouts, TLS and the application's handlers.
type ServerConfig struct {
	Policy
	// MaxAssociations caps concurrent associations; further requests are
	// rejected as transient, "local limit exceeded" (PS3.8 Table 9-21).
	MaxAssociations int
	// ARTIM bounds the wait for the A-ASSOCIATE-RQ and for closes (PS3.8 §9.1.5).
	ARTIM time.Duration
	// IdleTimeout aborts an association on which nothing arrives between messages.
	IdleTimeout time.Duration
	// DIMSETimeout bounds each wait for the next fragment of a message under way.
	DIMSETimeout time.Duration
	// WriteTimeout bounds each PDU written to a peer: one that stops
	// reading ends its association when it expires (ul.Config.WriteTimeout).
	// Zero: DIMSETimeout.
	WriteTimeout time.Duration
	// MaxPending caps the connections not yet associated: from the TCP
	// accept until the A-ASSOCIATE-AC (or, after a rejection, the close),
	// TLS handshake included. When a new connection finds them all taken,
	// the oldest one is closed to make room: a legitimate peer sends its
	// A-ASSOCIATE-RQ at once, one that stalls is the likeliest to be
	// hostile, and a flood of stalled connections then only shortens the
	// wait it is given (PS3.8 §9.1.5 lets the acceptor close at any time
	// before the association). Zero: DefaultMaxPending.
	MaxPending int
	// MaxPendingPerAddress caps the connections not yet associated from one
	// source address; further connections from it are closed at accept,
	// before a byte is read. Zero: DefaultMaxPendingPerAddress.
	MaxPendingPerAddress int
	// Inflation bounds each Deflated Explicit VR Little Endian data set
	// (PS3.5 §A.5), checked as its fragments arrive, before the store
	// handler is told it is complete; see inflationStatus for the answer.
	// A zero field takes DefaultInflation's; a negative one sets no bound.
	Inflation part10.InflationLimit
	// TLS, when set, makes the listener speak DICOM TLS (PS3.15 Annex B.1);
	// require client certificates with tls.Config.ClientAuth.
	TLS *tls.Config
	Log zerolog.Logger
	// Store receives C-STORE data sets; nil refuses them with 0x0118
	// (no such SOP class). Verification needs no handler.
	Store StoreHandler
	// OnEvent, when set, receives notifications for the audit trail.
	OnEvent func(Event)
}

// EventKind names a notification.
type EventKind string

// Notifications, modelled on the PS3.15 audit messages they feed.
const (
	EventAssociationAccepted EventKind = "association-accepted"
	EventAssociationRejected EventKind = "association-rejected" // a security alert when for policy
	EventAssociationEnded    EventKind = "association-ended"
	EventInstanceStored      EventKind = "instance-stored"
	EventInstanceFailed      EventKind = "instance-failed"
	EventEcho                EventKind = "echo"
)

// Event is one notification.
type Event struct {
	Kind        EventKind
	Association *AssociationInfo
	Remote      string
	Reason      string
	Request     *StoreRequest
	Status      uint16
	Err         error
}

// Defaults of the pre-association limits.
const (
	DefaultMaxPending           = 128
	DefaultMaxPendingPerAddress = 16
)

// DefaultInflation bounds deflated data sets: 2 GiB inflated, and 200 times
// the deflated size (plus part10.RatioSlack). Deflate cannot exceed about
// 1032:1; images deflate 2–10:1, mostly blank ones a few tens to one.
var DefaultInflation = part10.InflationLimit{MaxBytes: 2 << 30, MaxRatio: 200}

// shutdownAbortGrace is how long Shutdown lets its A-ABORTs go out, once the
// drain time is over, before it closes the transports under them.
const shutdownAbortGrace = time.Second

// Server is a DICOM acceptor (an SCP for Verification and Storage).
//
// Lock order: Server.mu before nothing; it is never held while writing to
// a peer or calling into a ul.Conn, so no peer can hold it.
type Server struct {
	cfg ServerConfig

	mu        sync.Mutex
	conns     map[*peerConn]struct{}
	pending   int                // conns not yet associated
	pendingBy map[netip.Addr]int // the same by source address
	active    int
	closing   bool
	ln        net.Listener
	wg        sync.WaitGroup
	refusals  refusalLog
	alerts    alertLimiter
}

// peerConn is one accepted transport connection.
type peerConn struct {
	raw     net.Conn   // the TCP connection (under TLS too): closing it takes no lock
	addr    netip.Addr // the source address, unmapped
	since   time.Time  // accepted at
	pending bool       // counted in pending and pendingBy
	ul      *ul.Conn   // once the upper layer runs; guarded by Server.mu
}

// NewServer returns a server; defaults fill unset fields.
func NewServer(cfg ServerConfig) *Server {
	if cfg.AETitle == "" {
		cfg.AETitle = "TWEEDIE"
	}
	if cfg.MaxPDU == 0 {
		cfg.MaxPDU = DefaultMaxPDU
	}
	if len(cfg.SOPClasses) == 0 {
		cfg.SOPClasses = append([]string{VerificationSOPClass}, StorageSOPClasses...)
	}
	if len(cfg.TransferSyntaxes) == 0 {
		cfg.TransferSyntaxes = DefaultTransferSyntaxes
	}
	if cfg.MaxAssociations <= 0 {
		cfg.MaxAssociations = 32
	}
	if cfg.ARTIM <= 0 {
		cfg.ARTIM = ul.DefaultARTIM
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.DIMSETimeout <= 0 {
		cfg.DIMSETimeout = 60 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = cfg.DIMSETimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPendingPerAddress <= 0 {
		cfg.MaxPendingPerAddress = DefaultMaxPendingPerAddress
	}
	if cfg.Inflation.MaxBytes == 0 {
		cfg.Inflation.MaxBytes = DefaultInflation.MaxBytes
	}
	if cfg.Inflation.MaxRatio == 0 {
		cfg.Inflation.MaxRatio = DefaultInflation.MaxRatio
	}
	return &Server{cfg: cfg, conns: map[*peerConn]struct{}{}, pendingBy: map[netip.Addr]int{}}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("dimse: server closed")

// ListenAndServe listens on addr (host:port) and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown. TLS, when configured, is
// layered on each connection after the checks at accept, so that refused
// addresses cost no handshake.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			if !errors.Is(err, net.ErrClosed) {
				// Transient (EMFILE and friends): back off like net/http.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.cfg.Log.Warn().Err(err).Dur("retry_in", delay).Msg("accept failed")
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		pc := s.admit(nc)
		if pc == nil {
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		go func() {
			defer s.wg.Done()
			defer s.forget(pc)
			s.handleConn(pc)
		}()
	}
}

// admit applies the checks that need only the source address, at accept,
// before a byte is read or a goroutine started: the address allowlist
// (PS3.15 §B.1 leaves access control to the node; PS3.8 has no means to
// refuse a transport connection but to close it), the per-address limit on
// connections not yet associated, and the total one (which evicts the
// oldest). It returns nil when nc was closed.
func (s *Server) admit(nc net.Conn) *peerConn {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap()
	}
	if !s.cfg.addressAllowed(addr) {
		nc.Close()
		// A Security Alert as when the A-ASSOCIATE-RQ was rejected for
		// the address, without reading it; a flood is audited in part.
		s.mu.Lock()
		emit, unaudited := s.alerts.allow()
		s.mu.Unlock()
		if emit {
			reason := "source address " + addr.String() + " not allowed (connection closed at accept)"
			if unaudited > 0 {
				reason += fmt.Sprintf("; %d more refusals in the last second not audited", unaudited)
			}
			s.cfg.Log.Warn().Str("peer", nc.RemoteAddr().String()).Msg("connection refused: source address not allowed")
			s.emit(Event{Kind: EventAssociationRejected, Remote: nc.RemoteAddr().String(), Reason: reason})
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		nc.Close()
		return nil
	}
	if s.pendingBy[addr] >= s.cfg.MaxPendingPerAddress {
		s.refusals.note(s.cfg.Log, addr, fmt.Sprintf("%d connections from this address not yet associated", s.cfg.MaxPendingPerAddress))
		nc.Close()
		return nil
	}
	if s.pending >= s.cfg.MaxPending {
		var oldest *peerConn
		for c := range s.conns {
			if c.pending && (oldest == nil || c.since.Before(oldest.since)) {
				oldest = c
			}
		}
		if oldest != nil {
			s.refusals.note(s.cfg.Log, oldest.addr, fmt.Sprintf("closed after %s without an association: %d connections not yet associated",
				time.Since(oldest.since).Round(time.Millisecond), s.cfg.MaxPending))
			s.leavePendingLocked(oldest)
			oldest.raw.Close()
		}
	}
	pc := &peerConn{raw: nc, addr: addr, since: time.Now(), pending: true}
	s.conns[pc] = struct{}{}
	s.pending++
	s.pendingBy[addr]++
	s.wg.Add(1)
	return pc
}

// leavePendingLocked takes c out of the pre-association counts; s.mu is held.
func (s *Server) leavePendingLocked(c *peerConn) {
	if !c.pending {
		return
	}
	c.pending = false
	s.pending--
	if s.pendingBy[c.addr]--; s.pendingBy[c.addr] <= 0 {
		delete(s.pendingBy, c.addr)
	}
}

func (s *Server) forget(c *peerConn) {
	s.mu.Lock()
	s.leavePendingLocked(c)
	delete(s.conns, c)
	s.mu.Unlock()
	c.raw.Close()
}

func (p *Policy) addressAllowed(addr netip.Addr) bool {
	return len(p.AllowedNetworks) == 0 || slices.ContainsFunc(p.AllowedNetworks, func(n netip.Prefix) bool { return n.Contains(addr) })
}

// alertLimiter lets at most alertsPerSecond refusals a second become audit
// events: each is a write to the audit log, and a flood of connections from
// a refused address must not fill the disk the spool needs.
type alertLimiter struct {
	window     time.Time
	emitted    int
	suppressed int
}

const alertsPerSecond = 10

// allow is called with Server.mu held; it says whether to emit this alert
// and how many were suppressed in the window before.
func (a *alertLimiter) allow() (bool, int) {
	now := time.Now()
	var before int
	if now.Sub(a.window) >= time.Second {
		before = a.suppressed
		a.window, a.emitted, a.suppressed = now, 0, 0
	}
	if a.emitted >= alertsPerSecond {
		a.suppressed++
		return false, 0
	}
	a.emitted++
	return true, before
}

// refusalLog logs connections refused for the limits at most once a second,
// with a count of those not logged: a flood must not become a flood of log
// lines.
type refusalLog struct {
	last       time.Time
	suppressed int
}

// note is called with Server.mu held.
func (r *refusalLog) note(log zerolog.Logger, addr netip.Addr, why string) {
	if now := time.Now(); now.Sub(r.last) >= time.Second {
		log.Warn().Str("peer", addr.String()).Int("not_logged_since", r.suppressed).Str("reason", why).Msg("connection refused before association")
		r.last, r.suppressed = now, 0
		return
	}
	r.suppressed++
}

// Addr returns the listening address once Serve has started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting, closes the connections not yet associated, lets
// associations in flight finish until ctx is done, then aborts the rest
// (A-ABORT, PS3.8 §7.3) and, after at most shutdownAbortGrace, closes their
// transports whether or not the A-ABORT went out. No peer can make it wait
// longer: a peer that does not read blocks only its own writer, and the
// server's lock is never held while writing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		if c.pending {
			// In the TLS handshake, before the A-ASSOCIATE-RQ or after a
			// rejection: nothing in flight to wait for.
			c.raw.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns := make([]*peerConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var aborts sync.WaitGroup
	cause := errors.New("server shutting down")
	for _, c := range conns {
		s.mu.Lock()
		u := c.ul
		s.mu.Unlock()
		if u == nil {
			c.raw.Close()
			continue
		}
		aborts.Add(1)
		go func() {
			defer aborts.Done()
			u.Abort(pdu.AbortSourceUser, pdu.AbortNotSpecified, cause)
		}()
	}
	t := time.NewTimer(shutdownAbortGrace)
	select {
	case <-done:
	case <-t.C:
		for _, c := range conns {
			c.raw.Close()
		}
	}
	t.Stop()
	<-done
	aborts.Wait()
	return ctx.Err()
}

func (s *Server) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

func (s *Server) handleConn(p *peerConn) {
	nc := p.raw
	log := s.cfg.Log.With().Str("peer", nc.RemoteAddr().String()).Logger()
	tlsPeer := ""
	if s.cfg.TLS != nil {
		tc := tls.Server(nc, s.cfg.TLS)
		nc = tc
		_ = tc.SetDeadline(time.Now().Add(s.cfg.ARTIM))
		if err := tc.Handshake(); err != nil {
			log.Warn().Err(err).Msg("TLS handshake failed")
			s.emit(Event{Kind: EventAssociationRejected, Remote: nc.RemoteAddr().String(), Reason: "TLS handshake failed: " + err.Error(), Err: err})
			nc.Close()
			return
		}
		_ = tc.SetDeadline(time.Time{})
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
			tlsPeer = st.PeerCertificates[0].Subject.String()
		}
	}
	c := ul.Accept(nc, ul.Config{ARTIM: s.cfg.ARTIM, MaxReceivePDU: s.cfg.MaxPDU, WriteTimeout: s.cfg.WriteTimeout})
	s.mu.Lock()
	p.ul = c
	s.mu.Unlock()
	defer c.Close()

	ind, err := c.Next()
	if err != nil {
		log.Info().Err(err).Msg("no association request")
		return
	}
	rq, ok := ind.PDU.(*pdu.AssociateRQ)
	if ind.Kind != ul.AssociateIndication || !ok {
		return
	}
	info := &AssociationInfo{CallingAE: rq.CallingAE, CalledAE: rq.CalledAE, RemoteAddr: nc.RemoteAddr(),
		PeerImplementationClassUID: rq.UserInfo.ImplementationClassUID,
		PeerImplementationVersion:  rq.UserInfo.ImplementationVersionName, TLSPeer: tlsPeer}
	log = log.With().Str("calling_ae", rq.CallingAE).Str("called_ae", rq.CalledAE).Logger()

	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		addr = ap.Addr()
	}
	ac, accepted, rej := s.cfg.Negotiate(rq, addr)
	if rej == nil {
		s.mu.Lock()
		if s.closing {
			rej = &Rejection{RJ: pdu.AssociateRJ{Result: pdu.RejectTransient, Source: pdu.RejectSourceProviderPresentn, Reason: pdu.RejectTemporaryCongestion}, Reason: "server shutting down"}
		} else if s.active >= s.cfg.MaxAssociations {
			rej = &Rejection{RJ: pdu.AssociateRJ{Result: pdu.RejectTransient, Source: pdu.RejectSourceProviderPresentn, Reason: pdu.RejectLocalLimitExceeded},
				Reason: fmt.Sprintf("limit of %d concurrent associations reached", s.cfg.MaxAssociations)}
		} else {
			s.active++
			s.leavePendingLocked(p)
		}
		s.mu.Unlock()
	}
	if rej != nil {
		log.Warn().Str("reason", rej.Reason).Msg("association rejected")
		s.emit(Event{Kind: EventAssociationRejected, Association: info, Remote: nc.RemoteAddr().String(), Reason: rej.Reason})
		_ = c.RejectAssociation(&rej.RJ)
		return
	}
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if err := c.AcceptAssociation(ac); err != nil {
		log.Warn().Err(err).Msg("sending A-ASSOCIATE-AC")
		return
	}
	peerMax := rq.UserInfo.MaxLength
	a := newAssociation(c, *info, accepted, peerMax)
	a.dimseTimeout = s.cfg.DIMSETimeout
	log.Info().Int("contexts", len(accepted)).Int("proposed", len(rq.PresentationContexts)).Msg("association accepted")
	s.emit(Event{Kind: EventAssociationAccepted, Association: info, Remote: nc.RemoteAddr().String()})
	err = s.serveMessages(a, log)
	ev := Event{Kind: EventAssociationEnded, Association: info, Remote: nc.RemoteAddr().String(), Err: err}
	if err != nil {
		log.Warn().Err(err).Msg("association ended abnormally")
		ev.Reason = err.Error()
	} else {
		log.Info().Msg("association released")
	}
	s.emit(ev)
}

// incoming is a message whose data set is being received.
type incoming struct {
	cmd     *msg.Command
	ctx     PresentationContext
	req     *StoreRequest
	sink    StoreSink
	err     error // first error: refusal or failed write; the rest is discarded
	bytes   int64
	started time.Time
	// check inflates a deflated data set as it arrives, against
	// ServerConfig.Inflation; nil for the other transfer syntaxes.
	check *part10.InflationCheck
}

// inflationStatus is the C-STORE answer to a deflated data set that failed
// its check (PS3.4 Table B.2-1). Over the limit: 0xA700 "Refused: Out of
// Resources", since the data set may be valid DICOM that this node declines
// to spend the resources on (0xCxxx would claim it cannot be understood,
// 0xA9xx that it does not match its SOP class); a peer that retries costs
// at most the limit each time. A corrupt or truncated DEFLATE stream: 0xC000
// "Error: Cannot understand". Either fails this object only: the
// association goes on (PS3.7 §9.1.1.1.9).
func inflationStatus(err error) error {
	if errors.Is(err, part10.ErrInflationLimit) {
		return &StatusError{Status: msg.StatusOutOfResources, Comment: "deflated data set exceeds the inflation limit", Err: err}
	}
	return &StatusError{Status: msg.StatusCannotUnderstand, Comment: "corrupt deflated data set", Err: err}
}

// abandon stops what is under way for a message that will not complete.
func (in *incoming) abandon(why error) {
	if in.check != nil {
		in.check.Abort()
		in.check = nil
	}
	if in.sink != nil {
		_, _ = safeClose(in.sink, why)
		in.sink = nil
	}
}

// serveMessages is the SCP's message loop: it reassembles command sets,
// dispatches them, streams data sets to the sink, and answers. It returns nil
// after an orderly release.
func (s *Server) serveMessages(a *Association, log zerolog.Logger) (err error) {
	var cmdBuf []byte
	var cur *incoming
	defer func() {
		if cur != nil {
			cur.abandon(fmt.Errorf("association ended during the data set: %v", err))
		}
	}()
	for {
		if cur != nil || len(cmdBuf) > 0 {
			a.conn.SetReadTimeout(s.cfg.DIMSETimeout)
		} else {
			a.conn.SetReadTimeout(s.cfg.IdleTimeout)
		}
		ind, err := a.conn.Next()
		if err != nil {
			return err
		}
		switch ind.Kind {
		case ul.ReleaseIndication:
			if cur != nil || len(cmdBuf) > 0 {
				return a.protocolError("A-RELEASE-RQ in the middle of a message")
			}
			return a.conn.RespondRelease()
		case ul.DataIndication:
		default:
			continue
		}
		for _, v := range ind.PDU.(*pdu.PData).Items {
			pc, ok := a.contexts[v.ContextID]
			if !ok {
				return a.protocolError(fmt.Sprintf("PDV on presentation context %d, which was not accepted", v.ContextID))
			}
			if v.IsCommand() {
				if cur != nil {
					return a.protocolError("command fragment while a data set was expected")
				}
				if len(cmdBuf)+len(v.Data) > msg.MaxCommandSize {
					return a.protocolError(fmt.Sprintf("command set larger than %d bytes", msg.MaxCommandSize))
				}
				cmdBuf = append(cmdBuf, v.Data...)
				if !v.IsLast() {
					continue
				}
				cmd, derr := msg.Decode(cmdBuf)
				cmdBuf = cmdBuf[:0]
				if derr != nil {
					return a.protocolError(derr.Error())
				}
				cur, err = s.begin(a, cmd, pc, log)
				if err != nil {
					return err
				}
				continue
			}
			if cur == nil {
				return a.protocolError("data set fragment without a command")
			}
			if v.ContextID != cur.ctx.ID {
				return a.protocolError(fmt.Sprintf("data set on context %d for a command on context %d", v.ContextID, cur.ctx.ID))
			}
			cur.bytes += int64(len(v.Data))
			if cur.err == nil && cur.check != nil {
				if _, cerr := cur.check.Write(v.Data); cerr != nil {
					cur.err = inflationStatus(cerr)
					cur.abandon(cur.err)
				}
			}
			if cur.err == nil && cur.sink != nil {
				if werr := safeWrite(cur.sink, v.Data); werr != nil {
					cur.err = werr
					cur.abandon(werr)
				}
			}
			if v.IsLast() {
				if err := s.finish(a, cur, log); err != nil {
					return err
				}
				cur = nil
			}
		}
	}
}

// begin dispatches a complete command. It returns the message in progress
// when a data set follows, nil when the command was answered at once.
func (s *Server) begin(a *Association, cmd *msg.Command, pc PresentationContext, log zerolog.Logger) (*incoming, error) {
	switch cmd.Field {
	case msg.CEchoRQ:
		// Verification, PS3.4 Annex A; PS3.7 §9.1.5.
		st := msg.StatusSuccess
		if pc.AbstractSyntax != VerificationSOPClass {
			st = msg.StatusNoSuchSOPClass
		}
		s.emit(Event{Kind: EventEcho, Association: &a.AssociationInfo, Status: st})
		if cmd.HasDataSet() {
			return &incoming{cmd: cmd, ctx: pc, err: &StatusError{Status: msg.StatusMistypedArgument, Comment: "C-ECHO with a data set"}}, nil
		}
		return nil, a.sendCommand(pc.ID, &msg.Command{Field: msg.CEchoRSP, MessageIDRespondedTo: cmd.MessageID,
			AffectedSOPClassUID: VerificationSOPClass, Status: st})
	case msg.CStoreRQ:
		in := &incoming{cmd: cmd, ctx: pc, started: time.Now()}
		in.req = &StoreRequest{Association: &a.AssociationInfo, MessageID: cmd.MessageID, Priority: cmd.Priority,
			SOPClassUID: cmd.AffectedSOPClassUID, SOPInstanceUID: cmd.AffectedSOPInstanceUID,
			TransferSyntaxUID: pc.TransferSyntax, MoveOriginatorAE: cmd.MoveOriginatorAE}
		switch {
		case !cmd.HasDataSet():
			in.err = &StatusError{Status: msg.StatusMistypedArgument, Comment: "C-STORE-RQ without a data set"}
			return nil, s.respondStore(a, in, log)
		case cmd.AffectedSOPClassUID != pc.AbstractSyntax:
			in.err = &StatusError{Status: msg.StatusDataSetMismatch, Comment: "SOP class differs from the presentation context's abstract syntax"}
		case !validUID(cmd.AffectedSOPInstanceUID):
			in.err = &StatusError{Status: msg.StatusCannotUnderstand, Comment: "invalid Affected SOP Instance UID"}
		case s.cfg.Store == nil:
			in.err = &StatusError{Status: msg.StatusNoSuchSOPClass, Comment: "storage not configured"}
		default:
			in.sink, in.err = safeBegin(s.cfg.Store, in.req)
			if in.err == nil && in.sink != nil && pc.TransferSyntax == part10.DeflatedExplicitVRLittleEndian {
				in.check = part10.NewInflationCheck(s.cfg.Inflation)
			}
		}
		return in, nil
	default:
		// PS3.7 §C.4.1: an operation this SCP does not perform.
		log.Info().Stringer("command", cmd.Field).Msg("unsupported DIMSE command")
		in := &incoming{cmd: cmd, ctx: pc, err: &StatusError{Status: msg.StatusUnrecognizedOp, Comment: cmd.Field.String() + " not supported"}}
		if !cmd.HasDataSet() {
			return nil, s.respondOther(a, in)
		}
		return in, nil
	}
}

func (s *Server) finish(a *Association, in *incoming, log zerolog.Logger) error {
	if in.cmd.Field != msg.CStoreRQ {
		return s.respondOther(a, in)
	}
	return s.respondStore(a, in, log)
}

func (s *Server) respondOther(a *Association, in *incoming) error {
	st, comment := StatusOf(in.err)
	return a.sendCommand(in.ctx.ID, &msg.Command{Field: in.cmd.Field | 0x8000, MessageIDRespondedTo: in.cmd.MessageID,
		AffectedSOPClassUID: in.cmd.AffectedSOPClassUID, Status: st, ErrorComment: comment})
}

func (s *Server) respondStore(a *Association, in *incoming, log zerolog.Logger) error {
	st, comment := msg.StatusSuccess, ""
	if in.check != nil {
		// The last fragment is in: the stream must have ended within the limit.
		if cerr := in.check.Close(); cerr != nil && in.err == nil {
			in.err = inflationStatus(cerr)
			in.abandon(in.err)
		}
		in.check = nil
	}
	if in.err == nil && in.sink != nil {
		var cerr error
		st, cerr = safeClose(in.sink, nil)
		in.sink = nil
		if cerr != nil {
			in.err = cerr
		}
	}
	if in.err != nil {
		st, comment = StatusOf(in.err)
	}
	ev := Event{Kind: EventInstanceStored, Association: &a.AssociationInfo, Request: in.req, Status: st, Err: in.err}
	l := log.Debug()
	if msg.Classify(st) == msg.Failure {
		ev.Kind = EventInstanceFailed
		l = log.Warn().Str("error", comment)
	}
	l.Str("sop_instance", in.cmd.AffectedSOPInstanceUID).Int64("bytes", in.bytes).Str("status", fmt.Sprintf("0x%04X", st)).Msg("C-STORE")
	s.emit(ev)
	return a.sendCommand(in.ctx.ID, &msg.Command{Field: msg.CStoreRSP, MessageIDRespondedTo: in.cmd.MessageID,
		AffectedSOPClassUID: in.cmd.AffectedSOPClassUID, AffectedSOPInstanceUID: in.cmd.AffectedSOPInstanceUID,
		Status: st, ErrorComment: comment})
}

// validUID checks the UI value representation as far as it matters for
// safety: digits and dots, no empty component, at most 64 characters (PS3.5
// §9.1). Leading zeros in components, which PS3.5 forbids but real devices
// send, are tolerated.
func validUID(u string) bool {
	if u == "" || len(u) > 64 || u[0] == '.' || u[len(u)-1] == '.' {
		return false
	}
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c == '.':
			if u[i-1] == '.' {
				return false
			}
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// ValidUID is exported for the applications that turn UIDs into paths.
func ValidUID(u string) bool { return validUID(u) }
