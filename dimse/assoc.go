package dimse

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/dimse/ul"
)

// DefaultMaxPDU is the P-DATA-TF length this node announces when none is
// configured. Larger PDUs mean fewer system calls per object; 256 KiB is what
// high-throughput nodes use on fast networks, and the per-association buffer
// stays small.
const DefaultMaxPDU = 256 << 10

// sendPDUWhenUnlimited is used when the peer announces 0 (no limit).
const sendPDUWhenUnlimited = 1 << 20

// AssociationInfo describes an established association to services and to
// the audit log.
type AssociationInfo struct {
	CallingAE, CalledAE        string
	RemoteAddr                 net.Addr
	PeerImplementationClassUID string
	PeerImplementationVersion  string
	// TLSPeer is the verified client certificate's subject, if any.
	TLSPeer string
}

// Association is one established association: the upper-layer connection,
// the accepted presentation contexts and the negotiated PDU sizes. DIMSE
// messages travel over it in P-DATA-TF fragments (PS3.8 Annex E).
type Association struct {
	AssociationInfo
	conn     *ul.Conn
	contexts map[byte]PresentationContext
	maxSend  uint32 // largest P-DATA-TF variable field the peer accepts
	msgID    uint16
	// dimseTimeout bounds each wait for the peer once a message is under way.
	dimseTimeout time.Duration
}

func newAssociation(conn *ul.Conn, info AssociationInfo, ctxs []PresentationContext, peerMax uint32) *Association {
	a := &Association{AssociationInfo: info, conn: conn, contexts: map[byte]PresentationContext{}}
	for _, c := range ctxs {
		a.contexts[c.ID] = c
	}
	a.maxSend = peerMax
	if a.maxSend == 0 || a.maxSend > sendPDUWhenUnlimited {
		a.maxSend = sendPDUWhenUnlimited
	}
	if a.maxSend < 16 {
		a.maxSend = 16 // below this no PDV could carry data; PS3.8 §D.1 forbids it anyway
	}
	return a
}

// Contexts returns the accepted presentation contexts.
func (a *Association) Contexts() []PresentationContext {
	out := make([]PresentationContext, 0, len(a.contexts))
	for _, c := range a.contexts {
		out = append(out, c)
	}
	return out
}

// nextMessageID returns a fresh Message ID (PS3.7 §9.1.1.1: unique within the association).
func (a *Association) nextMessageID() uint16 {
	a.msgID++
	if a.msgID == 0 {
		a.msgID = 1
	}
	return a.msgID
}

// fragment is the largest PDV data size: the PDU variable field minus the PDV
// item header (4-byte length, context ID, message control header).
// It is kept even: DCMTK, among others, refuses odd fragments.
func (a *Association) fragment() int { return (int(a.maxSend) - 6) &^ 1 }

// sendCommand sends a command set in one or more PDVs, PS3.8 Annex E.
func (a *Association) sendCommand(ctxID byte, cmd *msg.Command) error {
	b := cmd.Encode()
	f := a.fragment()
	for len(b) > f {
		if err := a.conn.SendPData(ctxID, pdu.PDVCommand, b[:f]); err != nil {
			return err
		}
		b = b[f:]
	}
	return a.conn.SendPData(ctxID, pdu.PDVCommand|pdu.PDVLast, b)
}

// dataWriter streams a data set as PDVs. It holds back one fragment so that
// the last one can carry the "last" bit without knowing the size in advance.
type dataWriter struct {
	a      *Association
	ctxID  byte
	buf    []byte
	total  int64
	err    error
	closed bool
}

func (a *Association) newDataWriter(ctxID byte) *dataWriter {
	return &dataWriter{a: a, ctxID: ctxID, buf: make([]byte, 0, a.fragment())}
}

func (w *dataWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	w.total += int64(n)
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			if w.err = w.a.conn.SendPData(w.ctxID, 0, w.buf); w.err != nil {
				return n - len(p), w.err
			}
			w.buf = w.buf[:0]
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
	}
	return n, nil
}

// Close sends the held-back fragment with the "last" bit. A data set of odd
// length can only be a deflated stream; PS3.5 §A.5 pads it with one NUL so
// that every fragment has even length.
func (w *dataWriter) Close() error {
	if w.err != nil || w.closed {
		return w.err
	}
	if w.total%2 == 1 {
		if _, err := w.Write([]byte{0}); err != nil {
			return err
		}
	}
	w.closed = true
	w.err = w.a.conn.SendPData(w.ctxID, pdu.PDVLast, w.buf)
	return w.err
}

// ErrProtocol marks DIMSE-level protocol violations by the peer.
var ErrProtocol = errors.New("DIMSE protocol violation")

// readCommand waits for a complete command set; data PDVs are a protocol
// violation here (it is used where no data set can follow: responses).
func (a *Association) readCommand() (*msg.Command, byte, error) {
	var buf []byte
	a.conn.SetReadTimeout(a.dimseTimeout)
	for {
		ind, err := a.conn.Next()
		if err != nil {
			return nil, 0, err
		}
		switch ind.Kind {
		case ul.DataIndication:
		case ul.ReleaseIndication:
			return nil, 0, fmt.Errorf("%w: peer requested release while a response was due", ErrProtocol)
		default:
			continue
		}
		for _, v := range ind.PDU.(*pdu.PData).Items {
			if !v.IsCommand() {
				return nil, 0, a.protocolError("data set fragment while waiting for a command")
			}
			if _, ok := a.contexts[v.ContextID]; !ok {
				return nil, 0, a.protocolError(fmt.Sprintf("PDV on presentation context %d, which was not accepted", v.ContextID))
			}
			if len(buf)+len(v.Data) > msg.MaxCommandSize {
				return nil, 0, a.protocolError(fmt.Sprintf("command set larger than %d bytes", msg.MaxCommandSize))
			}
			buf = append(buf, v.Data...)
			if v.IsLast() {
				cmd, err := msg.Decode(buf)
				if err != nil {
					return nil, 0, a.protocolError(err.Error())
				}
				return cmd, v.ContextID, nil
			}
		}
	}
}

// protocolError aborts the association (A-ABORT, service-provider source,
// PS3.8 §7.4) and returns the reason.
func (a *Association) protocolError(why string) error {
	err := fmt.Errorf("%w: %s", ErrProtocol, why)
	a.conn.Abort(pdu.AbortSourceProvider, pdu.AbortUnexpectedPDUParam, err)
	return err
}

// Release releases the association (A-RELEASE, PS3.8 §7.2).
func (a *Association) Release() error { return a.conn.Release() }

// Abort aborts the association (A-ABORT, service-user source).
func (a *Association) Abort() { a.conn.Abort(pdu.AbortSourceUser, pdu.AbortNotSpecified, nil) }
