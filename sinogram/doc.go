// Package sinogram is tweedie's CT domain: scan geometries, a matched
// projector/back-projector pair (linop.Op[float32]), filtered
// back-projection for parallel and fan beams (its ramp filters on num/fft),
// HU ↔ attenuation, and helpers for volumes. The iterative sparse-view
// recipes built on the projector (SIRT, ADMM-TV, PDHG-TV) live with the MR
// recipes in package reconstruct; this package stands on the numerics layer
// (num/linop, num/fft) and knows nothing of DICOM or the recipes.
//
// # Coordinates
//
// Images are (rows, cols) row-major; a volume is (slices, rows, cols).
// Row 0 is the top of the displayed image (anterior for axial stacks),
// column 0 the left (patient right). Physical coordinates in mm:
//
//	x = (c − cx)·PixelMM    (to the right, increasing column)
//	y = (cy − r)·PixelMM    (up, decreasing row)
//
// with the rotation axis at (cy, cx) = ((Rows−1)/2 + ShiftRow,
// (Cols−1)/2 + ShiftCol), the geometric centre unless shifted.
//
// # Parallel beam
//
// View θ (degrees, counter-clockwise from the +x axis; since y points up
// the screen, that is counter-clockwise on the displayed image too)
// integrates along the lines
//
//	x·cosθ + y·sinθ = u,
//
// the detector coordinate u (mm) of bin k being
//
//	u_k = (k − (NDet−1)/2 − CenterOffset)·DetSpacing,
//
// so CenterOffset (in detector bins) moves the bin that sees the rotation
// axis. At θ = 0 the rays run along y (down the columns) and bin index
// grows with x; at θ = 90° the rays run along x and the index grows
// upwards (towards row 0).
//
// # Fan beam (equiangular, third generation)
//
// At view β the source is at S = R·(sin β, −cos β) (R = SourceIso; at β = 0
// below the image, on the side of the last row) and the central ray runs
// through the isocentre. Bin k has fan angle
//
//	γ_k = (k − (NDet−1)/2 − CenterOffset)·DetSpacing/SourceDet
//
// (DetSpacing is the arc length of a bin on the curved detector). The ray
// (β, γ) is the parallel ray θ = β − γ, u = R·sin γ, so the central ray of
// view β is parallel view β, and the bin index grows in the same direction.
//
// # Sinograms
//
// A sinogram is (views, NDet) row-major, one row per view. Line integrals
// are in mm: a sinogram of attenuation in 1/mm is dimensionless.
//
// # scikit-image
//
// skimage.transform.radon(image, theta, circle=False) (verified with
// scikit-image 0.19.3) pads an N×N image to D = N + ⌈√2·N − N⌉ pixels,
// rotates about pixel (N//2, N//2), and sums, giving a (D, len(theta))
// array whose bin j sees u = (j − D//2) pixels with u = x cosθ + y sinθ,
// x = c − N//2, y = N//2 − r: the convention above with the rotation axis
// at pixel N//2 (ShiftRow = ShiftCol = ½ for even N), D bins of one pixel,
// and CenterOffset = D//2 − (D−1)/2. Its values are sums of pixel values,
// i.e. line integrals in pixel units. ForSkimageRadon builds this geometry
// and FromSkimage transposes and rescales its array.
//
// References: Joseph 1982 (IEEE TMI 1(3):192–196) for the projector; Kak &
// Slaney 1988 (Principles of Computerized Tomographic Imaging, ch. 3) for
// FBP.
package sinogram
