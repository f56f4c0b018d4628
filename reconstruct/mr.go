package reconstruct

import (
	"context"
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/fft"
)

func init() {
	Register(zeroFilled{})
}

// zeroFilled is the root-sum-of-squares of the coil images of the
// zero-filled k-space: the baseline every method must beat.
type zeroFilled struct{}

func (zeroFilled) Name() string     { return "zero-filled" }
func (zeroFilled) Modality() string { return "MR" }

func (zeroFilled) Reconstruct(ctx context.Context, in *Input, p *Params, _ Env) (*Output, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	mr := in.MR
	if err := mr.check(); err != nil {
		return nil, err
	}
	plane := mr.Rows * mr.Cols
	rows, cols := mr.imageSize()
	out := &Output{Slices: mr.Slices, Rows: rows, Cols: cols, Volume: make([]float32, mr.Slices*rows*cols),
		Description: "tweedie zero-filled RSS"}
	img := make([]complex64, mr.Coils*plane)
	for s := 0; s < mr.Slices; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := mr.KSpace[s*mr.Coils*plane : (s+1)*mr.Coils*plane]
		if err := fft.IFFT2c(img, k, mr.Rows, mr.Cols); err != nil {
			return nil, err
		}
		rss := make([]float32, plane)
		for c := 0; c < mr.Coils; c++ {
			for i, v := range img[c*plane : (c+1)*plane] {
				rss[i] += real(v)*real(v) + imag(v)*imag(v)
			}
		}
		for i := range rss {
			rss[i] = float32(math.Sqrt(float64(rss[i])))
		}
		cropInto(out.Volume[s*rows*cols:(s+1)*rows*cols], rss, mr.Rows, mr.Cols, rows, cols)
	}
	return out, nil
}

// check validates sizes (a programming or input error, never a panic).
func (m *MRInput) check() error {
	if m == nil {
		return fmt.Errorf("no MR input")
	}
	if m.Slices < 1 || m.Coils < 1 || m.Rows < 2 || m.Cols < 2 || len(m.KSpace) != m.Slices*m.Coils*m.Rows*m.Cols || len(m.Mask) != m.Rows*m.Cols {
		return fmt.Errorf("MR input of %d samples and %d mask entries does not fit %d × %d × %d × %d",
			len(m.KSpace), len(m.Mask), m.Slices, m.Coils, m.Rows, m.Cols)
	}
	r, c := m.imageSize()
	if r > m.Rows || c > m.Cols || r < 1 || c < 1 {
		return fmt.Errorf("image matrix %d × %d does not fit k-space %d × %d", r, c, m.Rows, m.Cols)
	}
	return nil
}

func (m *MRInput) imageSize() (int, int) {
	r, c := m.ImageRows, m.ImageCols
	if r == 0 || c == 0 {
		return m.Rows, m.Cols
	}
	return r, c
}

// cropInto copies the centred rows×cols window of a R×C image (fastMRI's
// center_crop: start at (R−rows)/2, (C−cols)/2).
func cropInto(dst, src []float32, R, C, rows, cols int) {
	r0, c0 := (R-rows)/2, (C-cols)/2
	for r := 0; r < rows; r++ {
		copy(dst[r*cols:(r+1)*cols], src[(r0+r)*C+c0:(r0+r)*C+c0+cols])
	}
}
