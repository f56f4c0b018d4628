package dimse

import (
	"net/netip"
	"slices"

	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/part10"
)

// PresentationContext is an accepted presentation context, PS3.8 §7.1.1.13.
type PresentationContext struct {
	ID             byte
	AbstractSyntax string
	TransferSyntax string
}

// Policy is what the acceptor allows; Negotiate applies it to a request.
type Policy struct {
	AETitle          string
	RequireCalledAE  bool           // reject an A-ASSOCIATE-RQ called to another AE title
	AllowedCallingAE []string       // empty: any calling AE title
	AllowedNetworks  []netip.Prefix // empty: any source address
	SOPClasses       []string       // accepted abstract syntaxes
	AcceptAnyStorage bool           // also accept any storage SOP class (IsStorageSOPClass)
	// TransferSyntaxes lists the accepted native syntaxes in order of
	// preference; the first one the requestor proposes in a context wins.
	TransferSyntaxes []string
	// AcceptEncapsulated accepts the compressed (encapsulated) syntaxes that
	// part10 knows, to be stored as received, after the native ones.
	AcceptEncapsulated bool
	MaxPDU             uint32
}

// DefaultTransferSyntaxes is the acceptor's preference: explicit little
// endian keeps VRs, implicit is every peer's default, deflated and big endian
// are taken when they are all a peer offers.
var DefaultTransferSyntaxes = []string{
	part10.ExplicitVRLittleEndian, part10.ImplicitVRLittleEndian,
	part10.DeflatedExplicitVRLittleEndian, part10.ExplicitVRBigEndian,
}

// Rejection says why an association was rejected, for the A-ASSOCIATE-RJ and
// for the audit log.
type Rejection struct {
	RJ     pdu.AssociateRJ
	Reason string
}

// Negotiate decides on an A-ASSOCIATE-RQ from a peer at addr: either an
// A-ASSOCIATE-AC with a result for every presentation context (PS3.8
// §9.3.3.2, Table 9-18), or a rejection with the reason of PS3.8 Table 9-21.
// It is pure; the server adds the concurrency limit.
func (p *Policy) Negotiate(rq *pdu.AssociateRQ, addr netip.Addr) (*pdu.AssociateAC, []PresentationContext, *Rejection) {
	reject := func(result, source, reason byte, why string) (*pdu.AssociateAC, []PresentationContext, *Rejection) {
		return nil, nil, &Rejection{RJ: pdu.AssociateRJ{Result: result, Source: source, Reason: reason}, Reason: why}
	}
	if len(p.AllowedNetworks) > 0 && !slices.ContainsFunc(p.AllowedNetworks, func(n netip.Prefix) bool { return n.Contains(addr.Unmap()) }) {
		// PS3.8 has no reason code for a source address; "no reason given"
		// tells the peer nothing about the allowlist.
		return reject(pdu.RejectPermanent, pdu.RejectSourceUser, pdu.RejectNoReason, "source address "+addr.String()+" not allowed")
	}
	if rq.ApplicationContext != pdu.ApplicationContext {
		return reject(pdu.RejectPermanent, pdu.RejectSourceUser, pdu.RejectAppContextNotSupported,
			"application context "+rq.ApplicationContext+" not supported")
	}
	if p.RequireCalledAE && rq.CalledAE != p.AETitle {
		return reject(pdu.RejectPermanent, pdu.RejectSourceUser, pdu.RejectCalledAENotRecognized,
			"called AE title "+quoteAE(rq.CalledAE)+" is not "+quoteAE(p.AETitle))
	}
	if len(p.AllowedCallingAE) > 0 && !slices.Contains(p.AllowedCallingAE, rq.CallingAE) {
		return reject(pdu.RejectPermanent, pdu.RejectSourceUser, pdu.RejectCallingAENotRecognized,
			"calling AE title "+quoteAE(rq.CallingAE)+" not allowed")
	}
	ac := &pdu.AssociateAC{
		ProtocolVersion:    1,
		CalledAE:           rq.CalledAE,
		CallingAE:          rq.CallingAE,
		ApplicationContext: pdu.ApplicationContext,
		UserInfo: pdu.UserInfo{
			MaxLength:                 p.MaxPDU,
			ImplementationClassUID:    ImplementationClassUID,
			ImplementationVersionName: ImplementationVersionName,
		},
	}
	if rq.UserInfo.AsyncOpsWindow != nil {
		// Operations are performed one at a time (PS3.7 §D.3.3.3).
		ac.UserInfo.AsyncOpsWindow = &[2]uint16{1, 1}
	}
	var accepted []PresentationContext
	seen := map[byte]bool{}
	for _, pc := range rq.PresentationContexts {
		res := pdu.PresentationContextAC{ID: pc.ID, Result: pdu.ResultAbstractSyntaxNotSupported}
		switch {
		case pc.ID%2 == 0 || seen[pc.ID]:
			// PS3.8 §9.3.2.2: IDs are odd and unique; refuse the context, not the association.
			res.Result = pdu.ResultNoReason
		case !p.acceptsSOPClass(pc.AbstractSyntax):
		default:
			if ts := p.chooseTransferSyntax(pc.TransferSyntaxes); ts != "" {
				res.Result, res.TransferSyntax = pdu.ResultAcceptance, ts
				accepted = append(accepted, PresentationContext{ID: pc.ID, AbstractSyntax: pc.AbstractSyntax, TransferSyntax: ts})
			} else {
				res.Result = pdu.ResultTransferSyntaxesNotSupported
			}
		}
		seen[pc.ID] = true
		if res.TransferSyntax == "" {
			// The field is present but not significant when not accepted (PS3.8 §9.3.3.2).
			res.TransferSyntax = part10.ImplicitVRLittleEndian
		}
		ac.PresentationContexts = append(ac.PresentationContexts, res)
	}
	// Role selection (PS3.7 §D.3.3.4): the peer may be SCU of what it
	// proposed; this node does not take the SCP role on its association.
	for _, r := range rq.UserInfo.RoleSelections {
		ac.UserInfo.RoleSelections = append(ac.UserInfo.RoleSelections, pdu.RoleSelection{SOPClassUID: r.SOPClassUID, SCU: r.SCU, SCP: false})
	}
	return ac, accepted, nil
}

func (p *Policy) acceptsSOPClass(uid string) bool {
	return slices.Contains(p.SOPClasses, uid) || (p.AcceptAnyStorage && IsStorageSOPClass(uid))
}

func (p *Policy) chooseTransferSyntax(proposed []string) string {
	for _, ts := range p.TransferSyntaxes {
		if slices.Contains(proposed, ts) {
			return ts
		}
	}
	if p.AcceptEncapsulated {
		for _, ts := range proposed {
			if t, ok := part10.LookupTransferSyntax(ts); ok && t.Encapsulated {
				return ts
			}
		}
	}
	return ""
}

func quoteAE(s string) string { return "\"" + s + "\"" }
