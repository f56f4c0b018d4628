package rules

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// Pseudo-attributes: facts about the association a series came on, matched
// like DICOM attributes. They are absent when the Association field is empty.
const (
	CallingAE   = "calling_ae"   // the peer's AE title
	CalledAE    = "called_ae"    // the AE title the peer asked for
	PeerAddress = "peer_address" // the peer's IP address, without the port
)

// Subject is the series' first instance plus the association it came on.
type Subject interface {
	// Values returns the values of a DICOM attribute by keyword
	// ("Modality", "SeriesDescription", "ImageType") or by tag written
	// "(0008,0060)" or "00080060" (hex, case-insensitive); ok=false when
	// absent. Multi-valued attributes return each value (e.g. ImageType →
	// ["ORIGINAL","PRIMARY","M"]).
	//
	// Evaluate always asks with the key Normalize returns: the keyword for
	// a tag in the dictionary, "(GGGG,EEEE)" in upper-case hex otherwise.
	Values(attr string) (vals []string, ok bool)
}

// Association is the association a series came on.
type Association struct {
	CallingAE, CalledAE string
	PeerAddr            string // "ip:port"
}

// MapSubject is a Subject held in a map whose keys are Normalize'd
// attribute keys, for tests and for callers that extract the attributes
// beforehand. Values accepts any form Normalize accepts.
type MapSubject map[string][]string

// Values implements Subject.
func (m MapSubject) Values(attr string) ([]string, bool) {
	if v, ok := m[attr]; ok {
		return v, true
	}
	key, err := Normalize(attr)
	if err != nil || key == attr {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

// NewMapSubject builds a MapSubject from a map keyed by keyword or tag in
// any form Normalize accepts. Two keys naming the same attribute are an
// error.
func NewMapSubject(m map[string][]string) (MapSubject, error) {
	out := make(MapSubject, len(m))
	from := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic errors
	for _, k := range keys {
		key, err := Normalize(k)
		if err != nil {
			return nil, err
		}
		if prev, dup := from[key]; dup {
			return nil, fmt.Errorf("rules: %q and %q are the same attribute %s", prev, k, key)
		}
		from[key] = k
		out[key] = m[k]
	}
	return out, nil
}

// Normalize maps a DICOM keyword ("Modality") or tag ("(0008,0060)",
// "00080060", hex in either case) to one canonical key: the keyword when
// the tag is in the dictionary of github.com/suyashkumar/dicom, else the
// tag as "(GGGG,EEEE)" in upper-case hex. Private tags can only be written
// as tags. The pseudo-attributes (calling_ae, …) are not DICOM attributes
// and are refused.
func Normalize(attr string) (string, error) {
	key, _, err := lookup(attr)
	return key, err
}

// lookup is Normalize that also returns the dictionary entry when there is
// one.
func lookup(attr string) (string, *tag.Info, error) {
	s := strings.TrimSpace(attr)
	if s == "" {
		return "", nil, fmt.Errorf("empty attribute name")
	}
	if t, ok := parseTag(s); ok {
		if t.Group == tag.GroupSeqItem {
			return "", nil, fmt.Errorf("%s is an item delimiter, not an attribute", formatTag(t))
		}
		info, err := tag.Find(t)
		if err != nil || info.Keyword == "" || info.Keyword == "GenericGroupLength" {
			return formatTag(t), nil, nil
		}
		return info.Keyword, &info, nil
	}
	info, err := tag.FindByKeyword(s)
	if err == nil && info.Keyword == s {
		return s, &info, nil
	}
	if err == nil { // FindByKeyword also matches the descriptive name
		return "", nil, fmt.Errorf("%q is an attribute name; its keyword is %s", s, info.Keyword)
	}
	for _, guess := range keywordGuesses(s) {
		if info, err := tag.FindByKeyword(guess); err == nil && info.Keyword == guess {
			return "", nil, fmt.Errorf("%q is not a DICOM keyword; did you mean %s?", s, guess)
		}
	}
	return "", nil, unknownAttrError(s)
}

// unknownAttrError is an attribute that is neither a keyword nor a tag.
type unknownAttrError string

func (e unknownAttrError) Error() string {
	return fmt.Sprintf("%q is neither a DICOM keyword nor a tag like (0008,0060) or 00080060", string(e))
}

// keywordGuesses returns spellings an administrator may have meant:
// "modality" → "Modality", "series_description" → "SeriesDescription".
func keywordGuesses(s string) []string {
	var camel strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		camel.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return []string{strings.ToUpper(s[:1]) + s[1:], camel.String()}
}

// parseTag reads "(GGGG,EEEE)" or "GGGGEEEE" in hex of either case.
func parseTag(s string) (tag.Tag, bool) {
	var g, e string
	switch {
	case len(s) == 11 && s[0] == '(' && s[5] == ',' && s[10] == ')':
		g, e = s[1:5], s[6:10]
	case len(s) == 8:
		g, e = s[:4], s[4:]
	default:
		return tag.Tag{}, false
	}
	if !isHex(g) || !isHex(e) {
		return tag.Tag{}, false
	}
	gv, _ := strconv.ParseUint(g, 16, 16)
	ev, _ := strconv.ParseUint(e, 16, 16)
	return tag.Tag{Group: uint16(gv), Element: uint16(ev)}, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func formatTag(t tag.Tag) string { return fmt.Sprintf("(%04X,%04X)", t.Group, t.Element) }

// pseudo indexes the pseudo-attributes; 0 is a DICOM attribute.
type pseudo int

const (
	notPseudo pseudo = iota
	pseudoCalling
	pseudoCalled
	pseudoPeer
	numPseudo
)

var pseudoNames = map[string]pseudo{CallingAE: pseudoCalling, CalledAE: pseudoCalled, PeerAddress: pseudoPeer}

// pseudoValues extracts the pseudo-attributes of an association. AE titles
// lose their padding; the peer address loses its port and zone, and an
// IPv4-mapped IPv6 address becomes IPv4.
func pseudoValues(a Association) (out [numPseudo][]string) {
	set := func(p pseudo, v string) {
		if v = trimValue(v); v != "" {
			out[p] = []string{v}
		}
	}
	set(pseudoCalling, a.CallingAE)
	set(pseudoCalled, a.CalledAE)
	set(pseudoPeer, peerIP(a.PeerAddr))
	return out
}

func peerIP(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("").String()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}

// parsePrefix reads a CIDR prefix or a single address (a one-host prefix).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if p.Addr().Is4In6() { // ::ffff:10.0.0.0/104 → 10.0.0.0/8
			if p.Bits() < 96 {
				return p, fmt.Errorf("IPv4-mapped prefix %s is shorter than /96", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%s has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trimValue removes DICOM padding: spaces at either end and trailing NULs
// (UI padding).
func trimValue(s string) string { return strings.Trim(s, " \x00") }

// number reads a DICOM DS/IS-style decimal: [+-] digits [. digits]
// [e [+-] digits]. Hex, underscores, NaN and Inf are not numbers, nor is a
// value out of float64 range.
func number(s string) (float64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func isDecimal(s string) bool {
	i, digits := 0, 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
