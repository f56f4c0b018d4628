package sinogram

import (
	"fmt"
)

// ForEachSlice calls fn(i) for i in [0, n) on up to workers goroutines
// (≤ 0: GOMAXPROCS) and returns the error of the lowest failing slice.
// Slices are handed out in contiguous, deterministic chunks.
func ForEachSlice(n, workers int, fn func(i int) error) error {
	if n <= 0 {
		return nil
	}
	errs := make([]error, n)
	parallelChunks(n, workerCount(workers, n), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			errs[i] = fn(i)
		}
	})
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("slice %d: %w", i, err)
		}
	}
	return nil
}

// MapSlices applies fn to each slice of a stack (slices, inLen) and returns
// the stack (slices, outLen), running slices in parallel on workers
// goroutines (≤ 0: GOMAXPROCS). fn must be safe for concurrent use.
func MapSlices(src []float32, slices, inLen, outLen, workers int, fn func(dst, src []float32) error) ([]float32, error) {
	if slices <= 0 || inLen <= 0 || outLen <= 0 {
		return nil, fmt.Errorf("sinogram: stack of %d slices of %d → %d values", slices, inLen, outLen)
	}
	if len(src) != slices*inLen || slices > (1<<31-1)/outLen {
		return nil, fmt.Errorf("sinogram: stack has %d values, want %d slices × %d", len(src), slices, inLen)
	}
	dst := make([]float32, slices*outLen)
	err := ForEachSlice(slices, workers, func(i int) error {
		return fn(dst[i*outLen:(i+1)*outLen], src[i*inLen:(i+1)*inLen])
	})
	return dst, err
}

// ProjectVolume projects every slice of a (slices, Rows, Cols) volume and
// returns (slices, views, NDet). Slices run in parallel, each projection
// on one goroutine.
func ProjectVolume(p *Projector, vol []float32, slices int) ([]float32, error) {
	one := p.WithWorkers(1)
	return MapSlices(vol, slices, p.InLen(), p.OutLen(), 0, func(dst, src []float32) error {
		one.Apply(dst, src)
		return nil
	})
}

// ReconstructVolume runs FBP on every sinogram of a (slices, views, NDet)
// stack and returns (slices, Rows, Cols).
func (f *FBP) ReconstructVolume(sino []float32, slices int) ([]float32, error) {
	one := *f
	one.workers = 1
	return MapSlices(sino, slices, f.InLen(), f.OutLen(), f.workers, func(dst, src []float32) error {
		return one.Reconstruct(dst, src)
	})
}
