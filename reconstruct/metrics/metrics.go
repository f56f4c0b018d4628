// Package metrics computes the image-quality measures the fastMRI challenge
// defines (Zbontar et al., "fastMRI: An Open Dataset and Benchmarks for
// Accelerated MRI", 2018; its evaluate.py), on magnitude volumes shaped
// (slices, rows, cols):
//
//   - NMSE = ‖ref − test‖² / ‖ref‖² over the volume;
//   - PSNR = 10·log10(max(ref)² / MSE) over the volume, data range = the
//     reference maximum;
//   - SSIM per slice with a 7×7 uniform window, K1 = 0.01, K2 = 0.03, the
//     sample covariance (N/(N−1)), data range = the reference volume's
//     maximum, averaged over the slice without its 3-pixel border (as
//     scikit-image's structural_similarity does), then over slices.
package metrics

import (
	"fmt"
	"math"
)

// Result holds the three measures.
type Result struct {
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
	NMSE float64 `json:"nmse"`
}

// Compare computes PSNR, SSIM and NMSE of test against ref; both are
// slices × rows × cols in C order.
func Compare(ref, test []float32, slices, rows, cols int) (Result, error) {
	n := slices * rows * cols
	if slices < 1 || rows < 7 || cols < 7 {
		return Result{}, fmt.Errorf("metrics: volume %d × %d × %d is smaller than the 7×7 SSIM window", slices, rows, cols)
	}
	if len(ref) != n || len(test) != n {
		return Result{}, fmt.Errorf("metrics: reference has %d values, test %d, shape needs %d", len(ref), len(test), n)
	}
	var se, ss, maxv float64
	maxv = math.Inf(-1)
	for i := range ref {
		r, t := float64(ref[i]), float64(test[i])
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Result{}, fmt.Errorf("metrics: test value %d is %v", i, t)
		}
		d := r - t
		se += d * d
		ss += r * r
		maxv = math.Max(maxv, r)
	}
	res := Result{NMSE: se / ss}
	mse := se / float64(n)
	res.PSNR = 10 * math.Log10(maxv*maxv/mse)
	var sum float64
	for s := 0; s < slices; s++ {
		sum += SSIM2D(ref[s*rows*cols:(s+1)*rows*cols], test[s*rows*cols:(s+1)*rows*cols], rows, cols, maxv)
	}
	res.SSIM = sum / float64(slices)
	return res, nil
}

// SSIM2D is the mean structural similarity of two images (Wang et al.,
// IEEE TIP 2004) as computed by scikit-image with win_size 7, a uniform
// window and the sample covariance.
func SSIM2D(x, y []float32, rows, cols int, dataRange float64) float64 {
	const w = 7
	const pad = w / 2
	const np = w * w
	covNorm := float64(np) / float64(np-1)
	c1 := (0.01 * dataRange) * (0.01 * dataRange)
	c2 := (0.03 * dataRange) * (0.03 * dataRange)
	// Integral images of x, y, x², y², xy make each window sum O(1).
	stride := cols + 1
	ix := make([]float64, (rows+1)*stride)
	iy := make([]float64, len(ix))
	ixx := make([]float64, len(ix))
	iyy := make([]float64, len(ix))
	ixy := make([]float64, len(ix))
	for r := 0; r < rows; r++ {
		var sx, sy, sxx, syy, sxy float64
		for c := 0; c < cols; c++ {
			a, b := float64(x[r*cols+c]), float64(y[r*cols+c])
			sx += a
			sy += b
			sxx += a * a
			syy += b * b
			sxy += a * b
			k := (r+1)*stride + c + 1
			ix[k] = ix[k-stride] + sx
			iy[k] = iy[k-stride] + sy
			ixx[k] = ixx[k-stride] + sxx
			iyy[k] = iyy[k-stride] + syy
			ixy[k] = ixy[k-stride] + sxy
		}
	}
	box := func(t []float64, r0, c0 int) float64 {
		r1, c1 := r0+w, c0+w
		return t[r1*stride+c1] - t[r0*stride+c1] - t[r1*stride+c0] + t[r0*stride+c0]
	}
	var total float64
	count := 0
	for r := pad; r < rows-pad; r++ {
		for c := pad; c < cols-pad; c++ {
			r0, c0 := r-pad, c-pad
			ux := box(ix, r0, c0) / np
			uy := box(iy, r0, c0) / np
			uxx := box(ixx, r0, c0) / np
			uyy := box(iyy, r0, c0) / np
			uxy := box(ixy, r0, c0) / np
			vx := covNorm * (uxx - ux*ux)
			vy := covNorm * (uyy - uy*uy)
			vxy := covNorm * (uxy - ux*uy)
			a1, a2 := 2*ux*uy+c1, 2*vxy+c2
			b1, b2 := ux*ux+uy*uy+c1, vx+vy+c2
			total += a1 * a2 / (b1 * b2)
			count++
		}
	}
	return total / float64(count)
}
