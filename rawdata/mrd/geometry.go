package mrd

import "math"

// geometry places each volume's images in the patient (DICOM LPS)
// coordinate system from the acquisitions' position (the centre of the
// slice or slab, mm) and read, phase and slice directions. In tweedie's
// layout the image rows run along the readout and the columns along phase
// encoding, so Image Orientation (Patient) is the phase direction (along
// a row) then the read direction (down a column); a 3D volume's slices are
// readout positions and its images (phase, partition), oriented slice
// direction then phase direction. Pixel spacing is the encoded field of
// view over the encoded matrix on each axis. The first voxel sits
// (size−1)/2 pixels before the centre along each image axis, as
// wrap.Identity places a synthetic stack. Acquisitions without directions
// (all zero, as the ISMRMRD phantom generator writes them) get an axial
// stack centred on the isocentre, slice by slice along the normal.
func (a *assembler) geometry() {
	enc := a.e.EncodedSpace.FOV
	spacing := func(fov float64, n int) float64 {
		if fov > 0 {
			return fov / float64(n)
		}
		return 1
	}
	dx, dy, dz := spacing(enc.X, a.ex), spacing(enc.Y, a.ey), spacing(enc.Z, a.ez)
	if !a.threeD {
		dz = enc.Z
		if !(dz > 0) {
			dz = 1
		}
	}
	fromData := true
	heads := make([][]AcquisitionHeader, len(a.vols))
	for v := range a.vols {
		for _, s := range a.sliceOrder[v] {
			i, ok := a.firstOfSlice[v][s]
			if !ok { // a slice of calibration lines only
				for _, l := range a.lines {
					if l.vol == v && l.slice == s {
						i = l.acq
						break
					}
				}
			}
			h, err := a.src.Head(i)
			if err != nil || !unit(h.ReadDir) || !unit(h.PhaseDir) {
				fromData = false
			}
			heads[v] = append(heads[v], h)
		}
	}
	a.rep.GeometryFromData = fromData
	if !fromData {
		a.rep.note("the acquisitions carry no slice directions: the images are placed as an axial stack centred on the isocentre")
	}
	for v, vol := range a.vols {
		g := &vol.Geometry
		g.ImageRows, g.ImageCols = vol.ImageRows, vol.ImageCols
		read, phase, slice := [3]float64{0, 1, 0}, [3]float64{1, 0, 0}, [3]float64{0, 0, 1}
		var centres [][3]float64
		for _, h := range heads[v] {
			c := [3]float64{}
			if fromData {
				read, phase, slice = norm(h.ReadDir), norm(h.PhaseDir), norm(h.SliceDir)
				if !unit(h.SliceDir) {
					slice = cross(read, phase)
				}
				c = f64(h.Position)
			}
			centres = append(centres, c)
		}
		if !fromData && !a.threeD {
			for s := range centres {
				centres[s] = scale(slice, (float64(s)-float64(len(centres)-1)/2)*dz)
			}
		}
		rowsHalf, colsHalf := float64(vol.ImageRows-1)/2, float64(vol.ImageCols-1)/2
		if a.threeD {
			// Rows along phase, columns along the partitions, slices
			// along the readout.
			g.Orientation = [6]float64{slice[0], slice[1], slice[2], phase[0], phase[1], phase[2]}
			g.PixelSpacing = [2]float64{dy, dz}
			g.SliceThickness = dx
			for j := 0; j < vol.Slices; j++ {
				p := add(centres[0], scale(read, (float64(j)-float64(vol.Slices-1)/2)*dx))
				p = add(p, scale(phase, -rowsHalf*dy))
				g.Positions = append(g.Positions, add(p, scale(slice, -colsHalf*dz)))
			}
			continue
		}
		g.Orientation = [6]float64{phase[0], phase[1], phase[2], read[0], read[1], read[2]}
		g.PixelSpacing = [2]float64{dx, dy}
		g.SliceThickness = dz
		for _, c := range centres {
			p := add(c, scale(read, -rowsHalf*dx))
			g.Positions = append(g.Positions, add(p, scale(phase, -colsHalf*dy)))
		}
	}
}

func f64(v [3]float32) [3]float64 { return [3]float64{float64(v[0]), float64(v[1]), float64(v[2])} }

func length(v [3]float32) float64 {
	x := f64(v)
	return math.Sqrt(x[0]*x[0] + x[1]*x[1] + x[2]*x[2])
}

// unit reports whether v is a direction cosine vector (length about 1).
func unit(v [3]float32) bool { l := length(v); return l > 0.9 && l < 1.1 }

func norm(v [3]float32) [3]float64 { return scale(f64(v), 1/length(v)) }

func scale(v [3]float64, s float64) [3]float64 { return [3]float64{v[0] * s, v[1] * s, v[2] * s} }

func add(a, b [3]float64) [3]float64 { return [3]float64{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
