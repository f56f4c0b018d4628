// Package array reads and writes the arrays tweedie exchanges with NumPy and
// BART: NumPy .npy files (NEP 1, format versions 1.0–3.0; float32 and
// complex64, C order) and BART .cfl/.hdr pairs (complex64, column-major).
// It is the numerics layer's file I/O: both modalities (k-space, images,
// sinograms, HU volumes) use it, and it imports nothing of tweedie.
//
// Array layout. Arrays are flat slices in C order (row-major, last index
// fastest). BART stores arrays column-major (Fortran order) with dims[0]
// varying fastest, so a C-order (coils, rows, cols) array is byte for byte
// the BART array with dims [cols, rows, 1, coils]: no data are moved when
// arrays go to or from BART, only the .hdr lists the dimensions in the
// opposite order (CFLDims).
//
// Readers bound what a header may claim (DefaultMaxElements, the header
// length, the number of dimensions) and check it against the file's size
// before allocating, so a hostile file cannot make them allocate gigabytes;
// both header parsers are fuzzed (FuzzReadNPY, FuzzParseCFLHeader).
package array
