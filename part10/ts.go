package part10

// Transfer Syntax UIDs of the four native (uncompressed) transfer syntaxes,
// PS3.5 Annex A.1 to A.5 and PS3.6 Annex A.
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2" // retired, PS3.5 Annex A.3
)

// TransferSyntax describes how a data set is encoded (PS3.5 §10, Annex A).
type TransferSyntax struct {
	UID  string
	Name string
	// Explicit is true when data elements carry their VR (PS3.5 §7.1.2).
	Explicit bool
	// BigEndian is true for Explicit VR Big Endian (PS3.5 §7.3, Annex A.3).
	BigEndian bool
	// Deflated is true when the whole data set is a raw DEFLATE
	// (RFC 1951) stream, PS3.5 Annex A.5.
	Deflated bool
	// Encapsulated is true when Pixel Data is held in fragments
	// (PS3.5 Annex A.4); such a data set cannot be transcoded here.
	Encapsulated bool
}

// encapsulated builds the entry of an Explicit VR Little Endian transfer
// syntax with encapsulated pixel data, PS3.5 Annex A.4.
func encapsulated(uid, name string) TransferSyntax {
	return TransferSyntax{UID: uid, Name: name, Explicit: true, Encapsulated: true}
}

var transferSyntaxes = func() map[string]TransferSyntax {
	list := []TransferSyntax{
		{UID: ImplicitVRLittleEndian, Name: "Implicit VR Little Endian"},
		{UID: ExplicitVRLittleEndian, Name: "Explicit VR Little Endian", Explicit: true},
		{UID: DeflatedExplicitVRLittleEndian, Name: "Deflated Explicit VR Little Endian", Explicit: true, Deflated: true},
		{UID: ExplicitVRBigEndian, Name: "Explicit VR Big Endian", Explicit: true, BigEndian: true},
		encapsulated("1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian"),
		encapsulated("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)"),
		encapsulated("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"),
		encapsulated("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)"),
		encapsulated("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])"),
		encapsulated("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression"),
		encapsulated("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless) Image Compression"),
		encapsulated("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)"),
		encapsulated("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression"),
		encapsulated("1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)"),
		encapsulated("1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component Image Compression"),
		encapsulated("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level"),
		encapsulated("1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level"),
		encapsulated("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1"),
		encapsulated("1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1"),
		encapsulated("1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video"),
		encapsulated("1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video"),
		encapsulated("1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2"),
		encapsulated("1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1"),
		encapsulated("1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile / Level 5.1"),
		encapsulated("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)"),
		encapsulated("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"),
		encapsulated("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression"),
		encapsulated("1.2.840.10008.1.2.5", "RLE Lossless"),
	}
	m := make(map[string]TransferSyntax, len(list))
	for _, ts := range list {
		m[ts.UID] = ts
	}
	return m
}()

// LookupTransferSyntax returns what is known of the transfer syntax uid: the
// four native syntaxes and the common encapsulated ones (PS3.5 Annex A,
// PS3.6 Annex A). Unknown UIDs return false.
func LookupTransferSyntax(uid string) (TransferSyntax, bool) {
	ts, ok := transferSyntaxes[uid]
	return ts, ok
}

// IsUncompressed reports whether uid is one of the four native transfer
// syntaxes: Implicit VR Little Endian, Explicit VR Little Endian, Deflated
// Explicit VR Little Endian (whose deflation is lossless and undone here) and
// Explicit VR Big Endian.
func IsUncompressed(uid string) bool {
	switch uid {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian,
		DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian:
		return true
	}
	return false
}

// CanTranscode reports whether Transcode can convert a data set from the
// transfer syntax from to the transfer syntax to: both must be native
// (see IsUncompressed). Transcode also accepts from == to for any syntax,
// which is a plain copy.
func CanTranscode(from, to string) bool {
	return IsUncompressed(from) && IsUncompressed(to)
}

// syntax is the part of a transfer syntax that the element codec needs.
type syntax struct {
	explicit, big bool
}

var implicitLE = syntax{}

func (s syntax) u16(b []byte) uint16 {
	if s.big {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

func (s syntax) u32(b []byte) uint32 {
	if s.big {
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}

func (s syntax) append16(b []byte, v uint16) []byte {
	if s.big {
		return append(b, byte(v>>8), byte(v))
	}
	return append(b, byte(v), byte(v>>8))
}

func (s syntax) append32(b []byte, v uint32) []byte {
	if s.big {
		return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func syntaxOf(ts TransferSyntax) syntax {
	return syntax{explicit: ts.Explicit, big: ts.BigEndian}
}

func tsName(uid string) string {
	if ts, ok := LookupTransferSyntax(uid); ok {
		return ts.Name
	}
	return "unknown transfer syntax " + uid
}

// ImplementationClassUID identifies tweedie in file meta information
// (0002,0012) and in association negotiation (PS3.7 §D.3.3.2). It lives
// under the UUID-derived root 2.25 (PS3.5 §B.2), since the project has no
// registered root.
const ImplementationClassUID = "2.25.228816595995085227023209589518005554442.1"

// ImplementationVersionName goes with ImplementationClassUID (at most 16
// characters).
const ImplementationVersionName = "TWEEDIE_0.1"
