// Package kspace is tweedie's MRI domain: Cartesian sampling masks,
// ESPIRiT coil-sensitivity calibration, the SENSE forward model as a
// linop.Op[complex64], and simulation helpers. It stands on the numerics
// layer (num/fft for the centred 2D FFT, num/linop for operators, num/array
// for files) and knows nothing of DICOM, the recipes above it or the
// network.
//
// Array layout. Images are complex64, row-major (C order) with shape
// (rows, cols); multi-coil data are (coils, rows, cols) with the coil index
// slowest. Phase encoding runs along cols (as in fastMRI, whose masks act on
// the second-to-last k-space axis), readout along rows.
//
// Relation to BART. BART stores arrays column-major (Fortran order) with
// dims[0] varying fastest. A C-order (coils, rows, cols) array is therefore
// byte-for-byte the BART array with dims [cols, rows, 1, coils]: BART's
// dims[0] (READ_DIM) is our cols axis and dims[1] (PHS1_DIM) our rows axis.
// No data need to be moved to exchange arrays with BART; only the .hdr lists
// the dimensions in the opposite order (array.CFLDims).
package kspace
