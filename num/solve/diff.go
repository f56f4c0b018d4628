package solve

import (
	"fmt"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// Boundary selects how finite differences treat the last sample.
type Boundary int

const (
	// Neumann: forward differences with a zero difference at the last
	// sample (x beyond the edge equals the edge value). The adjoint is
	// −div with the matching boundary terms; constants are the null space.
	// This is the usual choice for TV (Chambolle 2004).
	Neumann Boundary = iota
	// Periodic: the last sample differs with the first (circulant
	// difference, diagonalised by the DFT).
	Periodic
)

func (b Boundary) String() string {
	switch b {
	case Neumann:
		return "neumann"
	case Periodic:
		return "periodic"
	}
	return fmt.Sprintf("Boundary(%d)", int(b))
}

// MaxElements bounds the number of elements an operator of this package
// may be built for (2³¹ − 1, so index arithmetic fits in int32-sized
// loops and buffers stay addressable).
const MaxElements = 1<<31 - 1

func checkDims(what string, dims ...int) (int, error) {
	n := 1
	for _, d := range dims {
		if d <= 0 {
			return 0, fmt.Errorf("%w: %s dimensions %v must be positive", ErrConfig, what, dims)
		}
		if n > MaxElements/d {
			return 0, fmt.Errorf("%w: %s dimensions %v exceed %d elements", ErrConfig, what, dims, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// Grad2D is the discrete gradient of a stack of 2D images, a linop.Op[T]
// from (slices, rows, cols) to (slices, 2, rows, cols):
//
//	g[s, 0, r, c] = x[s, r+1, c] − x[s, r, c]   (difference down the rows)
//	g[s, 1, r, c] = x[s, r, c+1] − x[s, r, c]   (difference along the columns)
//
// with the Boundary deciding the last row/column (Neumann: 0; periodic:
// wrap to the first). The adjoint is −div:
//
//	(∇ᴴg)[r, c] = g0[r−1, c] − g0[r, c] + g1[r, c−1] − g1[r, c]
//
// with the terms outside the image (and, for Neumann, the unused last
// differences) taken as zero. ‖∇‖² ≤ 8. Isotropic TV pairs it with
// GroupProx(2, rows·cols).
type Grad2D[T linop.Scalar] struct {
	Slices, Rows, Cols int
	Boundary           Boundary
}

// NewGrad2D returns the gradient for a stack of `slices` images of
// rows×cols (slices ≥ 1, last because most callers pass 1; note that
// NewDiffZ takes the layout order), or an error for sizes out of range or
// an unknown boundary.
func NewGrad2D[T linop.Scalar](rows, cols, slices int, b Boundary) (*Grad2D[T], error) {
	n, err := checkDims("Grad2D", slices, rows, cols)
	if err != nil {
		return nil, err
	}
	if n > MaxElements/2 {
		return nil, fmt.Errorf("%w: Grad2D output of %d elements is too large", ErrConfig, 2*n)
	}
	if b != Neumann && b != Periodic {
		return nil, fmt.Errorf("%w: Grad2D boundary %v", ErrConfig, b)
	}
	return &Grad2D[T]{Slices: slices, Rows: rows, Cols: cols, Boundary: b}, nil
}

func (g *Grad2D[T]) InLen() int  { return g.Slices * g.Rows * g.Cols }
func (g *Grad2D[T]) OutLen() int { return 2 * g.InLen() }

func (g *Grad2D[T]) check(name string, dst, src []T, dl, sl int) {
	if len(dst) != dl || len(src) != sl {
		panic(fmt.Sprintf("solve.Grad2D.%s: dst %d (want %d), src %d (want %d)", name, len(dst), dl, len(src), sl))
	}
}

// Apply computes dst = ∇src.
func (g *Grad2D[T]) Apply(dst, src []T) {
	g.check("Apply", dst, src, g.OutLen(), g.InLen())
	R, C := g.Rows, g.Cols
	n := R * C
	per := g.Boundary == Periodic
	for s := 0; s < g.Slices; s++ {
		x := src[s*n : (s+1)*n]
		d0 := dst[2*s*n : 2*s*n+n]
		d1 := dst[2*s*n+n : 2*(s+1)*n]
		for r := 0; r < R; r++ {
			row := x[r*C : (r+1)*C]
			o0 := d0[r*C : (r+1)*C]
			o1 := d1[r*C : (r+1)*C]
			switch {
			case r < R-1:
				next := x[(r+1)*C : (r+2)*C]
				for c := range row {
					o0[c] = next[c] - row[c]
				}
			case per:
				next := x[:C]
				for c := range row {
					o0[c] = next[c] - row[c]
				}
			default:
				clear(o0)
			}
			for c := 0; c < C-1; c++ {
				o1[c] = row[c+1] - row[c]
			}
			if per {
				o1[C-1] = row[0] - row[C-1]
			} else {
				o1[C-1] = 0
			}
		}
	}
}

// Adjoint computes dst = ∇ᴴsrc = −div src.
func (g *Grad2D[T]) Adjoint(dst, src []T) {
	g.check("Adjoint", dst, src, g.InLen(), g.OutLen())
	R, C := g.Rows, g.Cols
	n := R * C
	per := g.Boundary == Periodic
	for s := 0; s < g.Slices; s++ {
		out := dst[s*n : (s+1)*n]
		g0 := src[2*s*n : 2*s*n+n]
		g1 := src[2*s*n+n : 2*(s+1)*n]
		for r := 0; r < R; r++ {
			o := out[r*C : (r+1)*C]
			cur0 := g0[r*C : (r+1)*C]
			row1 := g1[r*C : (r+1)*C]
			// −g0[r] (absent for the last row under Neumann)
			if r < R-1 || per {
				for c := range o {
					o[c] = -cur0[c]
				}
			} else {
				clear(o)
			}
			// + g0[r−1] (wrapping to the last row under periodic)
			switch {
			case r > 0:
				prev := g0[(r-1)*C : r*C]
				for c := range o {
					o[c] += prev[c]
				}
			case per:
				prev := g0[(R-1)*C : R*C]
				for c := range o {
					o[c] += prev[c]
				}
			}
			// + g1[c−1] − g1[c]
			for c := 0; c < C; c++ {
				v := o[c]
				if c < C-1 || per {
					v -= row1[c]
				}
				if c > 0 {
					v += row1[c-1]
				} else if per {
					v += row1[C-1]
				}
				o[c] = v
			}
		}
	}
}

// DiffZ is the forward difference along the slices of a volume (slices,
// rows, cols), a linop.Op[T] onto the same shape:
//
//	d[s, r, c] = x[s+1, r, c] − x[s, r, c],
//
// with d at the last slice 0 (Neumann) or x[0] − x[S−1] (periodic). Its
// adjoint is (Dᴴd)[s] = d[s−1] − d[s] with the matching boundary terms.
// This is the z-TV operator of DiffusionMBIR's ADMM step.
type DiffZ[T linop.Scalar] struct {
	Slices, Rows, Cols int
	Boundary           Boundary
}

// NewDiffZ returns the z difference for a (slices, rows, cols) volume.
func NewDiffZ[T linop.Scalar](slices, rows, cols int, b Boundary) (*DiffZ[T], error) {
	if _, err := checkDims("DiffZ", slices, rows, cols); err != nil {
		return nil, err
	}
	if b != Neumann && b != Periodic {
		return nil, fmt.Errorf("%w: DiffZ boundary %v", ErrConfig, b)
	}
	return &DiffZ[T]{Slices: slices, Rows: rows, Cols: cols, Boundary: b}, nil
}

func (d *DiffZ[T]) InLen() int  { return d.Slices * d.Rows * d.Cols }
func (d *DiffZ[T]) OutLen() int { return d.InLen() }

// Apply computes dst = D_z src.
func (d *DiffZ[T]) Apply(dst, src []T) {
	if len(dst) != d.OutLen() || len(src) != d.InLen() {
		panic(fmt.Sprintf("solve.DiffZ.Apply: dst %d, src %d, want %d", len(dst), len(src), d.InLen()))
	}
	n := d.Rows * d.Cols
	S := d.Slices
	for s := 0; s < S; s++ {
		o := dst[s*n : (s+1)*n]
		cur := src[s*n : (s+1)*n]
		switch {
		case s < S-1:
			sub(o, src[(s+1)*n:(s+2)*n], cur)
		case d.Boundary == Periodic:
			sub(o, src[:n], cur)
		default:
			clear(o)
		}
	}
}

// Adjoint computes dst = D_zᴴ src.
func (d *DiffZ[T]) Adjoint(dst, src []T) {
	if len(dst) != d.InLen() || len(src) != d.OutLen() {
		panic(fmt.Sprintf("solve.DiffZ.Adjoint: dst %d, src %d, want %d", len(dst), len(src), d.InLen()))
	}
	n := d.Rows * d.Cols
	S := d.Slices
	per := d.Boundary == Periodic
	for s := 0; s < S; s++ {
		o := dst[s*n : (s+1)*n]
		if s < S-1 || per {
			cur := src[s*n : (s+1)*n]
			for i := range o {
				o[i] = -cur[i]
			}
		} else {
			clear(o)
		}
		var prev []T
		switch {
		case s > 0:
			prev = src[(s-1)*n : s*n]
		case per:
			prev = src[(S-1)*n : S*n]
		}
		for i := range prev {
			o[i] += prev[i]
		}
	}
}
