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
	return assemble(parts, func(k *MRKSpace) *Header { return &k.Header }, func(k *MRKSpace) int { return k.Slices },
		func(first, p *MRKSpace) error {
			if p.Coils != first.Coils || p.Rows != first.Rows || p.Cols != first.Cols {
				return fmt.Errorf("instance %d has %d coils × %d × %d, instance %d has %d × %d × %d",
					p.InstanceIndex, p.Coils, p.Rows, p.Cols, first.InstanceIndex, first.Coils, first.Rows, first.Cols)
			}
			if string(p.Mask) != string(first.Mask) {
				return fmt.Errorf("instances %d and %d have different sampling masks", first.InstanceIndex, p.InstanceIndex)
			}
			return nil
		},
		func(out, p *MRKSpace, start bool) {
			if start {
				out.Data, out.Slices = make([]complex64, 0, out.TotalSlices*out.Coils*out.Rows*out.Cols), 0
			}
			out.Data = append(out.Data, p.Data...)
			out.Slices += p.Slices
		})
}

// AssembleCT is AssembleMR for sinograms.
func AssembleCT(parts []*CTSinogram) (*CTSinogram, error) {
	return assemble(parts, func(s *CTSinogram) *Header { return &s.Header }, func(s *CTSinogram) int { return s.Slices },
		func(first, p *CTSinogram) error {
			if p.Views != first.Views || p.Detectors != first.Detectors || p.Beam != first.Beam ||
				fmt.Sprint(p.AnglesDeg) != fmt.Sprint(first.AnglesDeg) || p.DetectorSpacing != first.DetectorSpacing {
				return fmt.Errorf("instances %d and %d have different projection geometry", first.InstanceIndex, p.InstanceIndex)
			}
			return nil
		},
		func(out, p *CTSinogram, start bool) {
			if start {
				out.Data, out.Slices = make([]float32, 0, out.TotalSlices*out.Views*out.Detectors), 0
			}
			out.Data = append(out.Data, p.Data...)
			out.Slices += p.Slices
		})
}

// assemble is the common part: order by first slice, check that the parts
// share the acquisition and fit (compatible), and join them (join appends
// a part's samples and counts its slices, starting afresh on the first)
// with their slice positions.
func assemble[T any](parts []*T, header func(*T) *Header, slices func(*T) int, compatible func(first, p *T) error, join func(out, p *T, start bool)) (*T, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no raw-data instances")
	}
	sort.Slice(parts, func(i, j int) bool { return header(parts[i]).FirstSlice < header(parts[j]).FirstSlice })
	first := parts[0]
	fh := header(first)
	if len(parts) == 1 && fh.FirstSlice == 0 && slices(first) == fh.TotalSlices {
		return first, nil
	}
	out := new(T)
	*out = *first
	oh := header(out)
	oh.FirstSlice, oh.Positions, oh.InstanceIndex, oh.NumInstances = 0, nil, 1, 1
	done := 0
	for _, p := range parts {
		ph := header(p)
		if err := sameAcquisition(fh, ph); err != nil {
			return nil, err
		}
		if err := compatible(first, p); err != nil {
			return nil, err
		}
		if ph.FirstSlice != done {
			return nil, fmt.Errorf("slice %d: %s", done, gapOrOverlap(ph.FirstSlice, done))
		}
		oh.Positions = append(oh.Positions, ph.Positions...)
		done += slices(p)
	}
	if done != fh.TotalSlices {
		return nil, fmt.Errorf("acquisition has %d of %d slices", done, fh.TotalSlices)
	}
	for i, p := range parts {
		join(out, p, i == 0)
	}
	oh.TotalSlices = done
	return out, nil
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
