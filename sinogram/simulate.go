package sinogram

import "fmt"

// Simulation of sparse-view sinograms from images in HU, for evaluation:
// what `tweedie simulate ct` writes.

// ParallelSim describes a simulated parallel-beam scan of N×N images.
type ParallelSim struct {
	N       int     // image side, pixels
	PixelMM float64 // pixel size of the images, mm
	Views   int     // views evenly spread over [0°, 180°)
	MuWater float64 // water attenuation, 1/mm (HUToMu)
}

// Geometry is the scan: Views angles over [0°, 180°) (EvenAngles),
// SkimageDetectors(N) bins of PixelMM, the geometry of
// skimage.transform.radon with circle=False for the reconstruction grid.
func (s ParallelSim) Geometry() ParallelGeometry {
	return ParallelGeometry{AnglesDeg: EvenAngles(s.Views, 0, 180), NDet: SkimageDetectors(s.N), DetSpacing: s.PixelMM}
}

// Simulate returns the sinograms (slices, Views, NDet) of line integrals
// of the attenuation of images (slices, N, N) in HU. They are projected on
// a grid twice as fine as the reconstruction grid (each pixel split into
// 2×2, attenuation clipped at 0) so that a reconstruction on the N×N grid
// does not commit the inverse crime.
func (s ParallelSim) Simulate(images []float32) ([]float32, error) {
	if s.N < 1 || s.Views < 1 || s.Views > 1<<14 {
		return nil, fmt.Errorf("sinogram: simulated scan of %d×%d images with %d views", s.N, s.N, s.Views)
	}
	plane := s.N * s.N
	if len(images)%plane != 0 {
		return nil, fmt.Errorf("sinogram: %d image values are not a whole number of %d×%d slices", len(images), s.N, s.N)
	}
	fine, err := NewParallelProjector(s.Geometry(), Square(2*s.N, s.PixelMM/2))
	if err != nil {
		return nil, err
	}
	n := s.N
	var sino []float32
	mu := make([]float32, plane)
	up := make([]float32, 4*plane)
	for i := 0; i < len(images)/plane; i++ {
		if err := HUToMu(mu, images[i*plane:(i+1)*plane], s.MuWater); err != nil {
			return nil, err
		}
		for r := 0; r < 2*n; r++ {
			for c := 0; c < 2*n; c++ {
				up[r*2*n+c] = max(mu[(r/2)*n+c/2], 0)
			}
		}
		p, err := fine.Project(up)
		if err != nil {
			return nil, err
		}
		sino = append(sino, p...)
	}
	return sino, nil
}
