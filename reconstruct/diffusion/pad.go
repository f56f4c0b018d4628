package diffusion

import (
	"context"
	"fmt"
	"sync"
)

// PadMode is how Pad fills the border between an image and the larger size
// a network accepts.
type PadMode int

const (
	// PadZero fills the border with zeros: the default, chosen by
	// measurement. The alternative argument — x_t = α·x0 + σ·z mirrored is
	// again an image plus white noise, so reflection should hide the border
	// from the network — did not hold: on the ITK head cut to 116×99 (the
	// anatomy touching every edge, padded to 128×112), dds scored 0.25–0.3 dB
	// higher with zeros than with reflection or edge repetition, with
	// defaults and with CCDF sample pairs (docs/results.md, padding). The
	// priors were trained on slices with air around the body, and zeros look
	// like air; mirrored anatomy is a shape they never saw.
	PadZero PadMode = iota
	// PadReflect mirrors the image about its edges without repeating the
	// edge pixel (numpy's "reflect"), repeatedly when the border is wider
	// than the image.
	PadReflect
	// PadEdge repeats the edge pixel.
	PadEdge
)

func (m PadMode) String() string {
	switch m {
	case PadReflect:
		return "reflect"
	case PadZero:
		return "zero"
	case PadEdge:
		return "edge"
	}
	return fmt.Sprintf("PadMode(%d)", int(m))
}

// ParsePadMode reads zero (also ""), reflect or edge.
func ParsePadMode(s string) (PadMode, error) {
	switch s {
	case "reflect":
		return PadReflect, nil
	case "zero", "":
		return PadZero, nil
	case "edge":
		return PadEdge, nil
	}
	return 0, fmt.Errorf("pad %q: want reflect, zero or edge", s)
}

// padded adapts a Denoiser of a larger image size to rows×cols images: each
// image is placed in the middle of the network's canvas, the border filled
// by the mode, and x̂0 cropped back. The denoiser is fully convolutional, so
// only the border's content matters, not where the image sits.
type padded struct {
	inner      Denoiser
	info       ModelInfo
	mode       PadMode
	r0, c0     int // offset of the image in the canvas
	mu         sync.Mutex
	bufIn, out []float32
}

// Pad returns den for rows×cols images (at most the network's size in each
// direction); den itself when the sizes are equal.
func Pad(den Denoiser, rows, cols int, mode PadMode) (Denoiser, error) {
	in := den.Info()
	if rows == in.Rows && cols == in.Cols {
		return den, nil
	}
	if rows < 1 || cols < 1 || rows > in.Rows || cols > in.Cols {
		return nil, fmt.Errorf("%w: images of %d×%d do not fit model %s's %d×%d", ErrConfig, rows, cols, in.Name, in.Rows, in.Cols)
	}
	info := in
	info.Rows, info.Cols = rows, cols
	return &padded{inner: den, info: info, mode: mode, r0: (in.Rows - rows) / 2, c0: (in.Cols - cols) / 2}, nil
}

func (p *padded) Info() ModelInfo { return p.info }

func (p *padded) Denoise(ctx context.Context, dst, x []float32, n int, lv Level) error {
	il := p.info.ImageLen()
	if len(x) != n*il || len(dst) != n*il {
		return fmt.Errorf("%w: Denoise: %d and %d values for %d images of %d", ErrConfig, len(dst), len(x), n, il)
	}
	in := p.inner.Info()
	big := in.ImageLen()
	p.mu.Lock()
	defer p.mu.Unlock()
	if cap(p.bufIn) < n*big {
		p.bufIn, p.out = make([]float32, n*big), make([]float32, n*big)
	}
	bin, bout := p.bufIn[:n*big], p.out[:n*big]
	R, C, r, c := in.Rows, in.Cols, p.info.Rows, p.info.Cols
	planes := n * in.Channels
	for q := 0; q < planes; q++ {
		padPlane(bin[q*R*C:(q+1)*R*C], x[q*r*c:(q+1)*r*c], R, C, r, c, p.r0, p.c0, p.mode)
	}
	if err := p.inner.Denoise(ctx, bout, bin, n, lv); err != nil {
		return err
	}
	for q := 0; q < planes; q++ {
		src, d := bout[q*R*C:(q+1)*R*C], dst[q*r*c:(q+1)*r*c]
		for i := 0; i < r; i++ {
			copy(d[i*c:(i+1)*c], src[(i+p.r0)*C+p.c0:(i+p.r0)*C+p.c0+c])
		}
	}
	return nil
}

// padPlane writes the r×c plane src into the R×C plane dst at (r0, c0)
// and fills the rest by mode.
func padPlane(dst, src []float32, R, C, r, c, r0, c0 int, mode PadMode) {
	for I := 0; I < R; I++ {
		i, inRow := fold(I-r0, r, mode)
		for J := 0; J < C; J++ {
			j, inCol := fold(J-c0, c, mode)
			if mode == PadZero && !(inRow && inCol) {
				dst[I*C+J] = 0
				continue
			}
			dst[I*C+J] = src[i*c+j]
		}
	}
}

// fold maps a canvas coordinate k (relative to the image) to an image
// index in [0, n) by the mode, and reports whether k lay inside.
func fold(k, n int, mode PadMode) (int, bool) {
	if k >= 0 && k < n {
		return k, true
	}
	switch mode {
	case PadEdge, PadZero:
		return min(max(k, 0), n-1), false
	}
	if n == 1 {
		return 0, false
	}
	// reflect: period 2n−2, mirror without repeating the edge.
	p := 2*n - 2
	k %= p
	if k < 0 {
		k += p
	}
	if k >= n {
		k = p - k
	}
	return k, false
}
