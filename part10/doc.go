// Package part10 is the DICOM file and transfer syntax layer of tweedie.
//
// It reads and writes the File Meta Information of DICOM files
// (PS3.10 §7.1: 128-byte preamble, "DICM" prefix and group 0002 in Explicit
// VR Little Endian) with ReadMeta and WriteMeta, describes transfer
// syntaxes (PS3.5 §10 and Annex A) with LookupTransferSyntax, and converts
// data sets between the four native transfer syntaxes (Implicit VR Little
// Endian, Explicit VR Little Endian, Deflated Explicit VR Little Endian and
// Explicit VR Big Endian) with Transcode, following the data element
// encodings of PS3.5 §7.1, the byte ordering of §7.3 and the nesting of
// sequences of §7.5.
//
// Everything streams: data sets of a gigabyte pass through fixed 64 KiB
// buffers, and no value is held in memory beyond the few short UIDs that
// ReadMeta and DataSetInfo return. Every length read from the input is
// checked against its enclosing container and bounds before it is used,
// and malformed input gives a *FormatError (wrapping ErrMalformed) that
// names the tag and byte offset of the problem.
//
// A typical use, sending a file whose transfer syntax the peer did not
// accept:
//
//	br := bufio.NewReader(f)
//	meta, err := part10.ReadMeta(br)
//	...
//	err = part10.Transcode(conn, br, meta.TransferSyntaxUID, part10.ImplicitVRLittleEndian)
package part10
