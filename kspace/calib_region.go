package kspace

// CalibRegion returns the size (rows, cols) of the fully sampled block
// centred at ((rows−r)/2, (cols−c)/2) that BART's calib_geom finds, grown
// alternately along the axes up to maxR×maxC; 0×0 when the centre is not
// sampled. The block's origin is ((rows−r)/2, (cols−c)/2).
func CalibRegion(ksp []complex64, coils, rows, cols, maxR, maxC int) (int, int) {
	return calibRegion(ksp, coils, rows, cols, maxR, maxC)
}
