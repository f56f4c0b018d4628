package dimse

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/dimse/ul"
	"github.com/tweedie-recon/tweedie/part10"
)

// Client is an association requestor (an SCU for Verification and Storage).
type Client struct {
	CallingAE    string
	MaxPDU       uint32 // announced receive limit; DefaultMaxPDU when zero
	TLS          *tls.Config
	DialTimeout  time.Duration
	ARTIM        time.Duration // wait for A-ASSOCIATE-AC/RJ and release
	DIMSETimeout time.Duration // wait for each response
	Log          zerolog.Logger
}

// ProposedContext is a presentation context to propose (PS3.8 §9.3.2.2).
type ProposedContext struct {
	AbstractSyntax   string
	TransferSyntaxes []string
}

// MaxPresentationContexts is the number of odd context IDs, 1…255.
const MaxPresentationContexts = 128

// RejectedError reports an A-ASSOCIATE-RJ.
type RejectedError struct{ RJ pdu.AssociateRJ }

func (e *RejectedError) Error() string {
	return fmt.Sprintf("association rejected: %s", DescribeRejection(e.RJ))
}

// DescribeRejection puts PS3.8 Table 9-21 into words.
func DescribeRejection(rj pdu.AssociateRJ) string {
	kind := "permanent"
	if rj.Result == pdu.RejectTransient {
		kind = "transient"
	}
	why := fmt.Sprintf("source %d reason %d", rj.Source, rj.Reason)
	switch rj.Source {
	case pdu.RejectSourceUser:
		switch rj.Reason {
		case pdu.RejectNoReason:
			why = "no reason given"
		case pdu.RejectAppContextNotSupported:
			why = "application context name not supported"
		case pdu.RejectCallingAENotRecognized:
			why = "calling AE title not recognized"
		case pdu.RejectCalledAENotRecognized:
			why = "called AE title not recognized"
		}
	case pdu.RejectSourceProviderACSE:
		if rj.Reason == pdu.RejectProtocolVersionNotSupp {
			why = "protocol version not supported"
		}
	case pdu.RejectSourceProviderPresentn:
		switch rj.Reason {
		case pdu.RejectTemporaryCongestion:
			why = "temporary congestion"
		case pdu.RejectLocalLimitExceeded:
			why = "local limit exceeded"
		}
	}
	return kind + ", " + why
}

// Associate opens a transport connection to addr (host:port) and negotiates
// an association with calledAE for the given contexts.
func (c *Client) Associate(ctx context.Context, addr, calledAE string, proposed []ProposedContext) (*Association, error) {
	if len(proposed) == 0 || len(proposed) > MaxPresentationContexts {
		return nil, fmt.Errorf("%d presentation contexts proposed, want 1 to %d", len(proposed), MaxPresentationContexts)
	}
	if err := checkAE(calledAE); err != nil {
		return nil, fmt.Errorf("called AE title: %w", err)
	}
	calling := c.CallingAE
	if calling == "" {
		calling = "TWEEDIE"
	}
	if err := checkAE(calling); err != nil {
		return nil, fmt.Errorf("calling AE title: %w", err)
	}
	maxPDU := c.MaxPDU
	if maxPDU == 0 {
		maxPDU = DefaultMaxPDU
	}
	artim := c.ARTIM
	if artim <= 0 {
		artim = ul.DefaultARTIM
	}
	dt := c.DialTimeout
	if dt <= 0 {
		dt = 30 * time.Second
	}
	d := net.Dialer{Timeout: dt}
	var nc net.Conn
	var err error
	if c.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: c.TLS}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	rq := &pdu.AssociateRQ{ProtocolVersion: 1, CalledAE: calledAE, CallingAE: calling, ApplicationContext: pdu.ApplicationContext,
		UserInfo: pdu.UserInfo{MaxLength: maxPDU, ImplementationClassUID: ImplementationClassUID, ImplementationVersionName: ImplementationVersionName}}
	for i, p := range proposed {
		rq.PresentationContexts = append(rq.PresentationContexts, pdu.PresentationContextRQ{ID: byte(2*i + 1), AbstractSyntax: p.AbstractSyntax, TransferSyntaxes: p.TransferSyntaxes})
	}
	conn, err := ul.Request(nc, ul.Config{ARTIM: artim, MaxReceivePDU: maxPDU}, rq)
	if err != nil {
		return nil, err
	}
	conn.SetReadTimeout(artim)
	ind, err := conn.Next()
	if err != nil {
		return nil, err
	}
	switch ind.Kind {
	case ul.AssociateRejected:
		return nil, &RejectedError{RJ: *ind.PDU.(*pdu.AssociateRJ)}
	case ul.AssociateAccepted:
	default:
		conn.Abort(pdu.AbortSourceUser, pdu.AbortNotSpecified, nil)
		return nil, fmt.Errorf("unexpected answer to A-ASSOCIATE-RQ")
	}
	ac := ind.PDU.(*pdu.AssociateAC)
	var accepted []PresentationContext
	for _, r := range ac.PresentationContexts {
		if r.Result != pdu.ResultAcceptance || r.ID%2 == 0 || int(r.ID/2) >= len(proposed) {
			continue
		}
		p := proposed[r.ID/2]
		if !slices.Contains(p.TransferSyntaxes, r.TransferSyntax) {
			// PS3.8 §9.3.3.2: the acceptor must pick one of those proposed.
			conn.Abort(pdu.AbortSourceUser, pdu.AbortNotSpecified, nil)
			return nil, fmt.Errorf("peer accepted context %d with transfer syntax %s, which was not proposed", r.ID, r.TransferSyntax)
		}
		accepted = append(accepted, PresentationContext{ID: r.ID, AbstractSyntax: p.AbstractSyntax, TransferSyntax: r.TransferSyntax})
	}
	info := AssociationInfo{CallingAE: calling, CalledAE: calledAE, RemoteAddr: nc.RemoteAddr(),
		PeerImplementationClassUID: ac.UserInfo.ImplementationClassUID, PeerImplementationVersion: ac.UserInfo.ImplementationVersionName}
	a := newAssociation(conn, info, accepted, ac.UserInfo.MaxLength)
	a.dimseTimeout = c.DIMSETimeout
	if a.dimseTimeout <= 0 {
		a.dimseTimeout = 60 * time.Second
	}
	if len(accepted) == 0 {
		_ = a.Release()
		return nil, fmt.Errorf("peer accepted none of the %d presentation contexts", len(proposed))
	}
	return a, nil
}

func checkAE(ae string) error {
	if ae == "" || len(ae) > 16 {
		return fmt.Errorf("%q must have 1 to 16 characters", ae)
	}
	for _, r := range ae {
		if r < 0x20 || r > 0x7e || r == '\\' {
			return fmt.Errorf("%q has a character not allowed in an AE title", ae)
		}
	}
	return nil
}

// Echo sends a C-ECHO-RQ (PS3.7 §9.1.5) and returns the response status.
func (a *Association) Echo() (uint16, error) {
	pc, ok := a.contextFor(VerificationSOPClass, "")
	if !ok {
		return 0, errors.New("Verification SOP class not accepted by the peer")
	}
	id := a.nextMessageID()
	if err := a.sendCommand(pc.ID, &msg.Command{Field: msg.CEchoRQ, MessageID: id, AffectedSOPClassUID: VerificationSOPClass}); err != nil {
		return 0, err
	}
	return a.awaitResponse(msg.CEchoRSP, id)
}

func (a *Association) awaitResponse(field msg.Field, id uint16) (uint16, error) {
	rsp, _, err := a.readCommand()
	if err != nil {
		return 0, err
	}
	if rsp.Field != field || rsp.MessageIDRespondedTo != id {
		return 0, a.protocolError(fmt.Sprintf("got %s for message %d, want %s for %d", rsp.Field, rsp.MessageIDRespondedTo, field, id))
	}
	if rsp.ErrorComment != "" && msg.Classify(rsp.Status) != msg.Success {
		return rsp.Status, &StatusError{Status: rsp.Status, Comment: rsp.ErrorComment}
	}
	return rsp.Status, nil
}

// contextFor finds an accepted context for the SOP class, preferring the
// transfer syntax ts when one is given.
func (a *Association) contextFor(sopClass, ts string) (PresentationContext, bool) {
	var best PresentationContext
	found := false
	for _, id := range slices.Sorted(mapsKeys(a.contexts)) {
		pc := a.contexts[id]
		if pc.AbstractSyntax != sopClass {
			continue
		}
		if ts != "" && pc.TransferSyntax == ts {
			return pc, true
		}
		if !found {
			best, found = pc, true
		}
	}
	return best, found
}

func mapsKeys(m map[byte]PresentationContext) func(func(byte) bool) {
	return func(yield func(byte) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ErrNoContext means the peer accepted no presentation context that can
// carry the object (its SOP class, or a transfer syntax it can be converted to).
var ErrNoContext = errors.New("no accepted presentation context for this object")

// Store sends one data set read from r, encoded in transfer syntax ts, with a
// C-STORE-RQ (PS3.7 §9.1.1). When the peer accepted the SOP class only with
// another native syntax, the data set is converted while it streams.
func (a *Association) Store(sopClass, sopInstance, ts string, r io.Reader) (uint16, error) {
	pc, ok := a.contextFor(sopClass, ts)
	if !ok {
		return 0, fmt.Errorf("%w: SOP class %s not accepted", ErrNoContext, sopClass)
	}
	if pc.TransferSyntax != ts && !part10.CanTranscode(ts, pc.TransferSyntax) {
		return 0, fmt.Errorf("%w: peer accepted %s only as %s and %s cannot be converted to it", ErrNoContext, sopClass, pc.TransferSyntax, ts)
	}
	id := a.nextMessageID()
	if err := a.sendCommand(pc.ID, &msg.Command{Field: msg.CStoreRQ, MessageID: id, AffectedSOPClassUID: sopClass,
		AffectedSOPInstanceUID: sopInstance, Priority: msg.PriorityMedium, WithDataSet: true}); err != nil {
		return 0, err
	}
	w := a.newDataWriter(pc.ID)
	var err error
	if pc.TransferSyntax == ts {
		_, err = io.Copy(w, r)
	} else {
		err = part10.Transcode(w, r, ts, pc.TransferSyntax)
	}
	if err != nil {
		// The data set is broken off mid-message: only an abort ends that
		// cleanly (PS3.7 has no way to cancel a C-STORE in progress).
		a.conn.Abort(pdu.AbortSourceUser, pdu.AbortNotSpecified, err)
		return 0, fmt.Errorf("sending data set: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return a.awaitResponse(msg.CStoreRSP, id)
}

// FileInfo is what the SCU needs to know of a Part 10 file before sending it.
type FileInfo struct {
	Path                                           string
	SOPClassUID, SOPInstanceUID, TransferSyntaxUID string
}

// ReadFileInfo reads only the file meta information of a Part 10 file.
func ReadFileInfo(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	m, err := part10.ReadMeta(bufio.NewReaderSize(f, 4096))
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	if m.MediaStorageSOPClassUID == "" || m.MediaStorageSOPInstanceUID == "" || m.TransferSyntaxUID == "" {
		return FileInfo{}, fmt.Errorf("%s: file meta information lacks SOP class, instance or transfer syntax", path)
	}
	return FileInfo{Path: path, SOPClassUID: m.MediaStorageSOPClassUID, SOPInstanceUID: m.MediaStorageSOPInstanceUID, TransferSyntaxUID: m.TransferSyntaxUID}, nil
}

// StoreFile streams a Part 10 file's data set (never the whole file in memory).
func (a *Association) StoreFile(fi FileInfo) (uint16, error) {
	f, err := os.Open(fi.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	if _, err := part10.ReadMeta(br); err != nil {
		return 0, fmt.Errorf("%s: %w", fi.Path, err)
	}
	return a.Store(fi.SOPClassUID, fi.SOPInstanceUID, fi.TransferSyntaxUID, br)
}

// nativeSyntaxes is the conversion fallback, in the order the SCU prefers.
var nativeSyntaxes = []string{part10.ExplicitVRLittleEndian, part10.ImplicitVRLittleEndian,
	part10.ExplicitVRBigEndian, part10.DeflatedExplicitVRLittleEndian}

// ProposeFor builds the presentation contexts for sending files: for each
// SOP class, one context per transfer syntax the files have (sent as they
// are), and, when any of them is native, one context offering all four
// native syntaxes to convert to if the peer refuses the original.
func ProposeFor(files []FileInfo) []ProposedContext {
	type key struct{ sop, ts string }
	seen := map[key]bool{}
	var out []ProposedContext
	fallback := map[string]bool{}
	for _, f := range files {
		k := key{f.SOPClassUID, f.TransferSyntaxUID}
		if !seen[k] {
			seen[k] = true
			out = append(out, ProposedContext{AbstractSyntax: f.SOPClassUID, TransferSyntaxes: []string{f.TransferSyntaxUID}})
		}
		if part10.IsUncompressed(f.TransferSyntaxUID) && !fallback[f.SOPClassUID] {
			fallback[f.SOPClassUID] = true
			out = append(out, ProposedContext{AbstractSyntax: f.SOPClassUID, TransferSyntaxes: nativeSyntaxes})
		}
	}
	return out
}

// PlanBatches splits files into groups whose proposals fit in one
// association's 128 presentation contexts, keeping the order.
func PlanBatches(files []FileInfo) [][]FileInfo {
	var batches [][]FileInfo
	var cur []FileInfo
	type key struct{ sop, ts string }
	seen, fallback := map[key]bool{}, map[string]bool{}
	n := 0
	for _, f := range files {
		k := key{f.SOPClassUID, f.TransferSyntaxUID}
		add := 0
		if !seen[k] {
			add++
		}
		if part10.IsUncompressed(f.TransferSyntaxUID) && !fallback[f.SOPClassUID] {
			add++
		}
		if n+add > MaxPresentationContexts {
			batches = append(batches, cur)
			cur, n = nil, 0
			seen, fallback = map[key]bool{}, map[string]bool{}
			add = 1
			if part10.IsUncompressed(f.TransferSyntaxUID) {
				add = 2
			}
		}
		seen[k] = true
		if part10.IsUncompressed(f.TransferSyntaxUID) {
			fallback[f.SOPClassUID] = true
		}
		n += add
		cur = append(cur, f)
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}
