// Package mrd reads ISMRMRD/MRD raw data — the HDF5 files that scanner
// converters (siemens_to_ismrmrd, GE's and Philips' converters), Gadgetron
// and the ismrmrd tools write — and turns them into tweedie's raw-data
// MR k-space (docs/raw-data.md): what `tweedie wrap mr --ismrmrd` does,
// apart from its flags. docs/mrd.md says what is supported and what is
// refused, and why.
//
// The pieces, each after its specification (ismrmrd 1.8: include/ismrmrd/
// ismrmrd.h, schema/ismrmrd.xsd, libsrc/dataset.c):
//
//   - header.go: the XML header (ParseHeader), bounded in size and checked
//     against the schema's ranges and names;
//   - acquisition.go: the 340-byte AcquisitionHeader and its flags;
//   - file.go: a group of an MRD file — <group>/xml and the acquisitions
//     of <group>/data — as a Source of acquisitions;
//   - noise.go: coil noise prewhitening from the noise scans;
//   - assemble.go, geometry.go: acquisitions → Cartesian k-space volumes
//     with their masks and their place in the patient;
//   - wrap.go: volumes → raw-data objects with the header's patient, study
//     and series.
//
// # Reading HDF5: pure Go
//
// MRD files are HDF5. The choice was between libhdf5 through cgo (Debian's
// libhdf5-dev) and a reader written here for the part of HDF5 these files
// use; package mrd/hdf5 is the latter. The reasons:
//
//   - The project keeps cgo in one package, the ONNX Runtime binding
//     (README, STYLE: "cgo lives in one package"). A second cgo package
//     would make every build of tweedie — the gateway, the tests, the
//     Debian package — need libhdf5's headers and a C toolchain, and tie
//     the binary to the libhdf5 soname of the build machine.
//   - The files come from outside (research groups, converters, a network
//     share) and are parsed in the node's process. libhdf5 is a large C
//     library with a long record of memory-safety bugs found by fuzzing
//     malformed files; a Go reader cannot overrun memory, and every size
//     it reads is bounded before allocation (see package hdf5), which the
//     fuzz targets here check.
//   - The subset is small and fixed by ismrmrd's own dataset code: a
//     superblock, groups, one variable-length string dataset and one
//     chunked compound dataset whose variable-length members live in the
//     global heap; plus the chunked complex arrays (appendNDArray). The
//     reader implements superblock versions 0–3, object headers 1 and 2,
//     symbol-table and compact groups, compact, contiguous and B-tree
//     chunked layouts and deflate, shuffle and Fletcher-32, and refuses
//     the rest by name (dense groups, fixed/extensible-array chunk
//     indexes of files written with libver "latest", other filters).
//
// The cost is that files written with HDF5 1.10's newest structures are
// refused until the reader learns them; ismrmrd's C library, h5py's
// defaults and the converters write the older ones.
package mrd
