// Package stream speaks the MRD (ISMRMRD) streaming protocol: the message
// framing that Gadgetron clients, Siemens FIRE/OpenRecon and the reference
// python-ismrmrd-server client (client.py, connection.py, constants.py of
// github.com/kspacekelvin/python-ismrmrd-server) use over TCP, and a
// session loop that runs the server side of one connection.
//
// The specification followed is ismrmrd's doc/mrd_messages.md (the message
// table) with include/ismrmrd/ismrmrd.h (the 340-byte AcquisitionHeader,
// decoded by package mrd, and the 198-byte ImageHeader) and waveform.h (the
// 40-byte WaveformHeader, naturally aligned). Every message is a uint16
// little-endian identifier followed by its body:
//
//	1    CONFIG_FILE    1024 bytes: a config name, NUL-terminated
//	2    CONFIG_TEXT    uint32 length, then the config text
//	3    HEADER         uint32 length, then the XML header (ismrmrd.xsd)
//	4    CLOSE          nothing: all data sent (by either side)
//	5    TEXT           uint32 length, then text (logging; "ERROR …" by convention)
//	1008 ACQUISITION    AcquisitionHeader (340), trajectory float32 ×
//	                    trajectory_dimensions × number_of_samples, data
//	                    complex64 × number_of_samples × active_channels
//	1022 IMAGE          ImageHeader (198), uint64 attribute length, the
//	                    attribute string (ismrmrdMeta XML), data of the
//	                    header's data_type × matrix_size[0..2] × channels
//	1026 WAVEFORM       WaveformHeader (40), uint32 × number_of_samples × channels
//
// All numbers are little endian. The Python client sends its texts with a
// terminating NUL counted in the length; the Decoder cuts a text at its
// first NUL and the Encoder writes one, as connection.py does.
//
// Every length read from the wire is checked against Limits before
// anything is allocated, and every error names the problem (unknown
// message id N, a truncated message, an oversized part of N bytes above its
// limit). FuzzDecoder checks that no input makes the Decoder panic or
// allocate beyond its limits.
//
// Session runs one connection: a config, the XML header, optional text and
// waveforms (read and ignored), acquisitions (collected), CLOSE; it asks a
// Handler for images, writes them back and closes. Wiring it into
// `tweedie serve` (mrd.listen, the spool, the rules, audit) is not done
// here; docs/mrd.md says what is still missing.
package stream
