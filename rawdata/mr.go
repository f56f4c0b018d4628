package rawdata

import (
	"errors"
	"fmt"
	"math"
)

// MRKSpace is one instance of multi-coil Cartesian MR k-space: samples shaped
// (Slices, Coils, Rows, Cols) in C order, rows along the readout (frequency
// encoding) and columns along phase encoding, as fastMRI lays out its data.
// The FFT convention is the centred orthonormal one (fastMRI's fft2c).
type MRKSpace struct {
	Header
	Slices, Coils, Rows, Cols int
	Data                      []complex64
	// Mask marks the sampled k-space positions of one slice, Rows×Cols in C
	// order (1 sampled, 0 not); the same for every coil and slice.
	Mask    []uint8
	ISMRMRD string // the ISMRMRD XML header, verbatim, when the scanner sent one
}

// Layout names.
const (
	layoutMR    = "SLICE\\COIL\\READOUT\\PHASE"
	layoutCT    = "SLICE\\VIEW\\DETECTOR"
	formatC64   = "COMPLEX64_LE"
	formatFloat = "FLOAT32_LE"
)

// Validate checks sizes, the mask and the samples before writing or after
// reading.
func (k *MRKSpace) Validate() error {
	if k.Slices < 1 || k.Coils < 1 || k.Rows < 2 || k.Cols < 2 {
		return fmt.Errorf("%w: k-space of %d slices × %d coils × %d × %d", ErrInvalid, k.Slices, k.Coils, k.Rows, k.Cols)
	}
	if n := k.Slices * k.Coils * k.Rows * k.Cols; len(k.Data) != n {
		return fmt.Errorf("%w: %d samples for %d × %d × %d × %d", ErrInvalid, len(k.Data), k.Slices, k.Coils, k.Rows, k.Cols)
	}
	if len(k.Mask) != k.Rows*k.Cols {
		return fmt.Errorf("%w: sampling mask of %d entries does not fit %d × %d k-space", ErrInvalid, len(k.Mask), k.Rows, k.Cols)
	}
	sampled := 0
	for i, m := range k.Mask {
		if m > 1 {
			return fmt.Errorf("%w: sampling mask entry %d is %d, want 0 or 1", ErrInvalid, i, m)
		}
		sampled += int(m)
	}
	if sampled == 0 {
		return fmt.Errorf("%w: the sampling mask samples nothing", ErrInvalid)
	}
	if len(k.Positions) != k.Slices {
		return fmt.Errorf("%w: %d slice positions for %d slices", ErrInvalid, len(k.Positions), k.Slices)
	}
	for i, v := range k.Data {
		if math.IsNaN(float64(real(v))) || math.IsNaN(float64(imag(v))) || math.IsInf(float64(real(v)), 0) || math.IsInf(float64(imag(v)), 0) {
			return fmt.Errorf("%w: k-space sample %s is %v", ErrInvalid, k.where(i), v)
		}
	}
	return nil
}

func (k *MRKSpace) where(i int) string {
	c := i % k.Cols
	r := i / k.Cols % k.Rows
	coil := i / (k.Cols * k.Rows) % k.Coils
	s := i / (k.Cols * k.Rows * k.Coils)
	return fmt.Sprintf("slice %d, coil %d, row %d, column %d", s, coil, r, c)
}

// WriteMR writes k as a Raw Data Storage Part 10 file in Explicit VR Little
// Endian.
func WriteMR(path string, k *MRKSpace) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if k.Modality == "" {
		k.Modality = "MR"
	}
	return writeFile(path, k.SOPInstanceUID, func(w *writer) {
		k.writeCommon(w, RawDataStorage)
		k.writePrivateCommon(w, KindMRKSpace, layoutMR, formatC64,
			[]uint32{uint32(k.Slices), uint32(k.Coils), uint32(k.Rows), uint32(k.Cols)})
		w.raw(tagSamplingMask, "OB", k.Mask)
		w.us(tagMaskDims, uint16(k.Rows), uint16(k.Cols))
		k.writePrivateGeometry(w)
		if k.ISMRMRD != "" {
			w.str(tagISMRMRDHeader, "UT", k.ISMRMRD)
		}
		writeArray(w, 2*len(k.Data), func(i int) float32 {
			if i%2 == 0 {
				return real(k.Data[i/2])
			}
			return imag(k.Data[i/2])
		})
	})
}

func appendF32(b []byte, v float32) []byte {
	u := math.Float32bits(v)
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}

// ReadMR reads an MR k-space object and checks it: sizes that disagree,
// missing attributes, non-finite samples and a mask that does not fit are
// errors that name the problem.
func ReadMR(path string) (*MRKSpace, error) {
	p, err := open(path)
	if err != nil {
		return nil, err
	}
	defer p.closer()
	return p.mr()
}

func (p *parsed) mr() (*MRKSpace, error) {
	if p.kind != KindMRKSpace {
		return nil, fmt.Errorf("%s: data kind %q is not %s", p.path, p.kind, KindMRKSpace)
	}
	if len(p.dims) != 4 {
		return nil, fmt.Errorf("%s: %w: MR k-space needs 4 array dimensions (slices, coils, readout, phase), got %v", p.path, ErrInvalid, p.dims)
	}
	if f := p.ds.str(tagSampleFormat); f != formatC64 {
		return nil, fmt.Errorf("%s: %w: sample format %q, want %s", p.path, ErrInvalid, f, formatC64)
	}
	k := &MRKSpace{Slices: p.dims[0], Coils: p.dims[1], Rows: p.dims[2], Cols: p.dims[3]}
	h, err := p.readHeader(k.Slices)
	if err != nil {
		return nil, err
	}
	k.Header = h
	k.ISMRMRD = p.ds.str(tagISMRMRDHeader)
	if e, ok := p.ds[tagSamplingMask]; ok {
		md, _ := p.ds.uints(tagMaskDims)
		if len(md) == 2 && (int(md[0]) != k.Rows || int(md[1]) != k.Cols) {
			return nil, fmt.Errorf("%s: %w: sampling mask is %d × %d but k-space is %d × %d", p.path, ErrInvalid, md[0], md[1], k.Rows, k.Cols)
		}
		if len(e.value) < k.Rows*k.Cols || len(e.value) > k.Rows*k.Cols+1 {
			return nil, fmt.Errorf("%s: %w: sampling mask has %d entries, k-space %d × %d needs %d", p.path, ErrInvalid, len(e.value), k.Rows, k.Cols, k.Rows*k.Cols)
		}
		k.Mask = append([]uint8(nil), e.value[:k.Rows*k.Cols]...)
	}
	raw, err := p.readArray(2 * k.Slices * k.Coils * k.Rows * k.Cols)
	if err != nil {
		var se *SampleError
		if errors.As(err, &se) {
			se.Where = k.where(se.Index/2) + map[bool]string{true: " (real part)", false: " (imaginary part)"}[se.Index%2 == 0]
		}
		return nil, err
	}
	k.Data = make([]complex64, len(raw)/2)
	for i := range k.Data {
		k.Data[i] = complex(raw[2*i], raw[2*i+1])
	}
	if k.Mask == nil {
		k.Mask = InferMask(k.Data, k.Slices*k.Coils, k.Rows, k.Cols)
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	return k, nil
}

// InferMask marks as sampled every k-space position that is non-zero in any
// coil or slice: a missing mask is inferred from the all-zero lines.
func InferMask(data []complex64, planes, rows, cols int) []uint8 {
	m := make([]uint8, rows*cols)
	for p := 0; p < planes; p++ {
		plane := data[p*rows*cols : (p+1)*rows*cols]
		for i, v := range plane {
			if v != 0 {
				m[i] = 1
			}
		}
	}
	return m
}
