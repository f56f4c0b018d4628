package rawdata

import (
	"fmt"
	"sort"
)

// ReadFile reads a raw-data object of either kind; the result is a
// *MRKSpace or a *CTSinogram.
func ReadFile(path string) (any, error) {
	p, err := open(path)
	if err != nil {
		return nil, err
	}
	defer p.closer()
	switch p.kind {
	case KindMRKSpace:
		return p.mr()
	case KindCTSinogram:
		return p.ct()
	}
	return nil, fmt.Errorf("%s: %w: data kind %q is neither %s nor %s", path, ErrInvalid, p.kind, KindMRKSpace, KindCTSinogram)
}

// AssembleMR joins the instances of one acquisition (any order) into one
// object with all slices, checking that they belong together and that no
// slice is missing or given twice.
func AssembleMR(parts []*MRKSpace) (*MRKSpace, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no k-space instances")
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].FirstSlice < parts[j].FirstSlice })
	first := parts[0]
	if len(parts) == 1 && first.FirstSlice == 0 && first.Slices == first.TotalSlices {
		return first, nil
	}
	out := *first
	out.Slices, out.FirstSlice, out.Positions, out.InstanceIndex, out.NumInstances = 0, 0, nil, 1, 1
	out.Data = make([]complex64, 0, first.TotalSlices*first.Coils*first.Rows*first.Cols)
	for _, p := range parts {
		if err := sameAcquisition(&first.Header, &p.Header); err != nil {
			return nil, err
		}
		if p.Coils != first.Coils || p.Rows != first.Rows || p.Cols != first.Cols {
			return nil, fmt.Errorf("instance %d has %d coils × %d × %d, instance %d has %d × %d × %d",
				p.InstanceIndex, p.Coils, p.Rows, p.Cols, first.InstanceIndex, first.Coils, first.Rows, first.Cols)
		}
		if string(p.Mask) != string(first.Mask) {
			return nil, fmt.Errorf("instances %d and %d have different sampling masks", first.InstanceIndex, p.InstanceIndex)
		}
		if p.FirstSlice != out.Slices {
			return nil, fmt.Errorf("slice %d: %s", out.Slices, gapOrOverlap(p.FirstSlice, out.Slices))
		}
		out.Data = append(out.Data, p.Data...)
		out.Positions = append(out.Positions, p.Positions...)
		out.Slices += p.Slices
	}
	if out.Slices != first.TotalSlices {
		return nil, fmt.Errorf("acquisition has %d of %d slices", out.Slices, first.TotalSlices)
	}
	out.TotalSlices = out.Slices
	return &out, nil
}

// AssembleCT is AssembleMR for sinograms.
func AssembleCT(parts []*CTSinogram) (*CTSinogram, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no sinogram instances")
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].FirstSlice < parts[j].FirstSlice })
	first := parts[0]
	if len(parts) == 1 && first.FirstSlice == 0 && first.Slices == first.TotalSlices {
		return first, nil
	}
	out := *first
	out.Slices, out.FirstSlice, out.Positions, out.InstanceIndex, out.NumInstances = 0, 0, nil, 1, 1
	out.Data = make([]float32, 0, first.TotalSlices*first.Views*first.Detectors)
	for _, p := range parts {
		if err := sameAcquisition(&first.Header, &p.Header); err != nil {
			return nil, err
		}
		if p.Views != first.Views || p.Detectors != first.Detectors || p.Beam != first.Beam ||
			fmt.Sprint(p.AnglesDeg) != fmt.Sprint(first.AnglesDeg) || p.DetectorSpacing != first.DetectorSpacing {
			return nil, fmt.Errorf("instances %d and %d have different projection geometry", first.InstanceIndex, p.InstanceIndex)
		}
		if p.FirstSlice != out.Slices {
			return nil, fmt.Errorf("slice %d: %s", out.Slices, gapOrOverlap(p.FirstSlice, out.Slices))
		}
		out.Data = append(out.Data, p.Data...)
		out.Positions = append(out.Positions, p.Positions...)
		out.Slices += p.Slices
	}
	if out.Slices != first.TotalSlices {
		return nil, fmt.Errorf("acquisition has %d of %d slices", out.Slices, first.TotalSlices)
	}
	out.TotalSlices = out.Slices
	return &out, nil
}

func gapOrOverlap(got, want int) string {
	if got > want {
		return fmt.Sprintf("missing (next instance starts at slice %d)", got)
	}
	return fmt.Sprintf("given twice (an instance starts at slice %d)", got)
}

func sameAcquisition(a, b *Header) error {
	switch {
	case a.Acquisition.UID != b.Acquisition.UID:
		return fmt.Errorf("instances from different acquisitions (%s, %s)", a.Acquisition.UID, b.Acquisition.UID)
	case a.StudyInstanceUID != b.StudyInstanceUID:
		return fmt.Errorf("instances from different studies")
	case a.TotalSlices != b.TotalSlices:
		return fmt.Errorf("instances disagree on the number of slices (%d, %d)", a.TotalSlices, b.TotalSlices)
	case a.Orientation != b.Orientation || a.PixelSpacing != b.PixelSpacing:
		return fmt.Errorf("instances disagree on orientation or pixel spacing")
	}
	return nil
}

// SplitMR cuts k into instances of at most perInstance slices (scanners and
// the wrap tool send one instance per slice or slab), numbering them.
func SplitMR(k *MRKSpace, perInstance int, sopUID func(i int) string) []*MRKSpace {
	if perInstance < 1 || perInstance >= k.Slices {
		k.NumInstances, k.InstanceIndex, k.FirstSlice, k.TotalSlices = 1, 1, 0, k.Slices
		return []*MRKSpace{k}
	}
	n := (k.Slices + perInstance - 1) / perInstance
	plane := k.Coils * k.Rows * k.Cols
	var out []*MRKSpace
	for i := 0; i < n; i++ {
		s0, s1 := i*perInstance, min((i+1)*perInstance, k.Slices)
		p := *k
		p.Slices, p.FirstSlice, p.TotalSlices = s1-s0, s0, k.Slices
		p.NumInstances, p.InstanceIndex, p.InstanceNumber = n, i+1, i+1
		p.Data = k.Data[s0*plane : s1*plane]
		p.Positions = k.Positions[s0:s1]
		p.SOPInstanceUID = sopUID(i)
		out = append(out, &p)
	}
	return out
}
