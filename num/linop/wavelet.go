package linop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"
)

// Wavelet is the orthogonal 2D discrete wavelet transform with the
// Daubechies-2 filter (4 taps, two vanishing moments; Daubechies,
// "Orthonormal bases of compactly supported wavelets", Comm Pure Appl Math
// 41:909–996, 1988) and periodic extension, on rows×cols images stored
// row-major, as a linear operator from the image to its coefficients (same
// length). BART's `pics -l1` uses this filter (wavelet_dau2) with random
// cyclic shifts of the image; BART extends the borders instead of wrapping,
// which makes its transform slightly redundant, while periodisation keeps
// this one square and orthogonal: Adjoint is the exact inverse. One level
// equals PyWavelets' dwt2(x, 'db2', mode='periodization') of x rolled by −1
// along both axes, blocks [[cA, cV], [cH, cD]] (TestWaveletAgainstPyWavelets).
//
// Levels follow BART: an axis is halved at every level while its current
// length is at least its minimum size (BART: min(dim, 16)) and even; the
// other axis may stop earlier. Each level splits the current low-pass block
// (top-left) along the axes still active: first along cols (each row), then
// along rows (each column), placing low-pass halves first (the Mallat
// layout). One-axis levels produce two bands.
//
// A cyclic shift (dr, dc) is applied before the analysis,
// y = W·P·x with (P·x)[r][c] = x[(r+dr) mod rows][(c+dc) mod cols]; a
// permutation, so the operator stays orthogonal. Draw a new shift per
// iteration with RandomShift to make soft thresholding shift-invariant on
// average, as BART does.
//
// For complex images the real and imaginary parts are transformed
// separately (the filter is real). A Wavelet holds a scratch buffer: one
// value must not be used by several goroutines at once, and SetShift must
// not run concurrently with Apply or Adjoint.
type Wavelet[T Scalar] struct {
	rows, cols int
	levels     []waveLevel
	dr, dc     int
	nlevR      int       // levels along rows
	nlevC      int       // levels along cols
	work, tmp  []float32 // image-sized scratch
	line       []float32
}

type waveLevel struct {
	r, c         int  // size of the block transformed at this level
	alongRows    bool // split the columns (length r)
	alongCols    bool // split the rows (length c)
	nextR, nextC int
}

// Daubechies-2 analysis filters: lowpass h = (1+√3, 3+√3, 3−√3, 1−√3)/(4√2),
// highpass g[k] = (−1)^k·h[3−k].
var (
	db2Lo = [4]float32{0.48296291314453416, 0.83651630373780794, 0.22414386804201339, -0.12940952255126037}
	db2Hi = [4]float32{-0.12940952255126037, -0.22414386804201339, 0.83651630373780794, -0.48296291314453416}
)

// WaveletConfig configures NewWavelet.
type WaveletConfig struct {
	// MinRows and MinCols stop the decomposition along an axis once its
	// current length is below them; zero means BART's min(dim, 16).
	MinRows, MinCols int
	// ShiftRows and ShiftCols set the initial cyclic shift.
	ShiftRows, ShiftCols int
}

// NewWavelet returns the Daubechies-2 transform of rows×cols images. At
// least one axis must have even length at least 2; an odd axis is not
// transformed.
func NewWavelet[T Scalar](rows, cols int, cfg WaveletConfig) (*Wavelet[T], error) {
	if rows < 1 || cols < 1 || rows > 1<<16 || cols > 1<<16 {
		return nil, fmt.Errorf("linop: wavelet image %d×%d out of range", rows, cols)
	}
	minR, minC := cfg.MinRows, cfg.MinCols
	if minR == 0 {
		minR = min(rows, 16)
	}
	if minC == 0 {
		minC = min(cols, 16)
	}
	if minR < 2 || minC < 2 {
		return nil, fmt.Errorf("linop: wavelet minimum size %d×%d, want at least 2", minR, minC)
	}
	w := &Wavelet[T]{rows: rows, cols: cols}
	r, c := rows, cols
	for {
		lv := waveLevel{r: r, c: c, nextR: r, nextC: c}
		lv.alongRows = r >= minR && r%2 == 0
		lv.alongCols = c >= minC && c%2 == 0
		if !lv.alongRows && !lv.alongCols {
			break
		}
		if lv.alongRows {
			lv.nextR = r / 2
			w.nlevR++
		}
		if lv.alongCols {
			lv.nextC = c / 2
			w.nlevC++
		}
		w.levels = append(w.levels, lv)
		r, c = lv.nextR, lv.nextC
	}
	if len(w.levels) == 0 {
		return nil, fmt.Errorf("linop: wavelet image %d×%d has no even axis of length ≥ the minimum %d×%d", rows, cols, minR, minC)
	}
	nch := 1
	var z T
	if _, ok := any(z).(complex64); ok {
		nch = 2
	}
	w.work = make([]float32, rows*cols*nch)
	w.tmp = make([]float32, rows*cols*nch)
	w.line = make([]float32, max(rows, cols)*nch)
	w.SetShift(cfg.ShiftRows, cfg.ShiftCols)
	return w, nil
}

// Levels returns the number of decomposition levels (of either axis).
func (w *Wavelet[T]) Levels() int { return len(w.levels) }

// SetShift sets the cyclic shift applied before the analysis (reduced
// modulo the image size; negative values allowed).
func (w *Wavelet[T]) SetShift(dr, dc int) {
	w.dr = ((dr % w.rows) + w.rows) % w.rows
	w.dc = ((dc % w.cols) + w.cols) % w.cols
}

// Shift returns the current cyclic shift.
func (w *Wavelet[T]) Shift() (dr, dc int) { return w.dr, w.dc }

// RandomShift draws a new shift uniformly from [0, 2^levels) per axis,
// where levels counts the levels along that axis, as BART's randshift does.
func (w *Wavelet[T]) RandomShift(rng *rand.Rand) {
	w.SetShift(rng.IntN(1<<w.nlevR), rng.IntN(1<<w.nlevC))
}

// InLen is rows·cols.
func (w *Wavelet[T]) InLen() int { return w.rows * w.cols }

// OutLen is rows·cols.
func (w *Wavelet[T]) OutLen() int { return w.rows * w.cols }

// floats views a []T as float32 values, two per complex64.
func floats[T Scalar](x []T) []float32 {
	switch v := any(x).(type) {
	case []float32:
		return v
	case []complex64:
		if len(v) == 0 {
			return nil
		}
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(v))), 2*len(v))
	}
	panic("unreachable")
}

func (w *Wavelet[T]) check(dst, src []T) {
	n := w.rows * w.cols
	if len(src) != n {
		panic(ShapeError("linop.Wavelet input", n, len(src)))
	}
	if len(dst) != n {
		panic(ShapeError("linop.Wavelet output", n, len(dst)))
	}
}

// Apply computes the coefficients dst = W·P·src.
func (w *Wavelet[T]) Apply(dst, src []T) {
	w.check(dst, src)
	s, d := floats(src), floats(dst)
	nch := len(s) / (w.rows * w.cols)
	rowLen := w.cols * nch
	// d = P·s: d[r][c] = s[(r+dr) mod rows][(c+dc) mod cols]
	for r := 0; r < w.rows; r++ {
		sr := s[((r+w.dr)%w.rows)*rowLen : ((r+w.dr)%w.rows+1)*rowLen]
		dr := d[r*rowLen : (r+1)*rowLen]
		k := w.dc * nch
		copy(dr, sr[k:])
		copy(dr[rowLen-k:], sr[:k])
	}
	for _, lv := range w.levels {
		if lv.alongCols {
			w.analyseRows(d, lv.r, lv.c, nch)
		}
		if lv.alongRows {
			w.analyseCols(d, lv.r, lv.c, nch)
		}
	}
}

// Adjoint computes the image dst = Pᵀ·Wᵀ·src, the inverse of Apply.
func (w *Wavelet[T]) Adjoint(dst, src []T) {
	w.check(dst, src)
	s, d := floats(src), floats(dst)
	nch := len(s) / (w.rows * w.cols)
	rowLen := w.cols * nch
	x := w.work
	copy(x, s)
	for i := len(w.levels) - 1; i >= 0; i-- {
		lv := w.levels[i]
		if lv.alongRows {
			w.synthCols(x, lv.r, lv.c, nch)
		}
		if lv.alongCols {
			w.synthRows(x, lv.r, lv.c, nch)
		}
	}
	// d = Pᵀ·x: d[(r+dr) mod rows][(c+dc) mod cols] = x[r][c]
	for r := 0; r < w.rows; r++ {
		xr := x[r*rowLen : (r+1)*rowLen]
		dr := d[((r+w.dr)%w.rows)*rowLen : ((r+w.dr)%w.rows+1)*rowLen]
		k := w.dc * nch
		copy(dr[k:], xr[:rowLen-k])
		copy(dr[:k], xr[rowLen-k:])
	}
}

// analyseRows splits each of the first r rows, over its first c entries:
// a[i] = Σ_k h[k]·x[(2i+k) mod c], d[i] = Σ_k g[k]·x[(2i+k) mod c].
func (w *Wavelet[T]) analyseRows(x []float32, r, c, nch int) {
	rowLen := w.cols * nch
	h := c / 2
	out := w.line[:c*nch]
	for row := 0; row < r; row++ {
		in := x[row*rowLen : row*rowLen+c*nch]
		for ch := 0; ch < nch; ch++ {
			for i := 0; i < h; i++ {
				var a, d float32
				for k := 0; k < 4; k++ {
					v := in[((2*i+k)%c)*nch+ch]
					a += db2Lo[k] * v
					d += db2Hi[k] * v
				}
				out[i*nch+ch] = a
				out[(h+i)*nch+ch] = d
			}
		}
		copy(in, out)
	}
}

// synthRows inverts analyseRows: x[(2i+k) mod c] += h[k]·a[i] + g[k]·d[i].
func (w *Wavelet[T]) synthRows(x []float32, r, c, nch int) {
	rowLen := w.cols * nch
	h := c / 2
	out := w.line[:c*nch]
	for row := 0; row < r; row++ {
		in := x[row*rowLen : row*rowLen+c*nch]
		clear(out)
		for ch := 0; ch < nch; ch++ {
			for i := 0; i < h; i++ {
				a, d := in[i*nch+ch], in[(h+i)*nch+ch]
				for k := 0; k < 4; k++ {
					out[((2*i+k)%c)*nch+ch] += db2Lo[k]*a + db2Hi[k]*d
				}
			}
		}
		copy(in, out)
	}
}

// analyseCols splits the first r rows along the rows axis, over the first
// c columns, working on whole row segments.
func (w *Wavelet[T]) analyseCols(x []float32, r, c, nch int) {
	rowLen := w.cols * nch
	seg := c * nch
	h := r / 2
	tmp := w.tmp[:r*seg]
	for i := 0; i < h; i++ {
		a := tmp[i*seg : (i+1)*seg]
		d := tmp[(h+i)*seg : (h+i+1)*seg]
		clear(a)
		clear(d)
		for k := 0; k < 4; k++ {
			src := x[((2*i+k)%r)*rowLen : ((2*i+k)%r)*rowLen+seg]
			lo, hi := db2Lo[k], db2Hi[k]
			for j, v := range src {
				a[j] += lo * v
				d[j] += hi * v
			}
		}
	}
	for i := 0; i < r; i++ {
		copy(x[i*rowLen:i*rowLen+seg], tmp[i*seg:(i+1)*seg])
	}
}

// synthCols inverts analyseCols.
func (w *Wavelet[T]) synthCols(x []float32, r, c, nch int) {
	rowLen := w.cols * nch
	seg := c * nch
	h := r / 2
	out := w.tmp[:r*seg]
	clear(out)
	for i := 0; i < h; i++ {
		a := x[i*rowLen : i*rowLen+seg]
		d := x[(h+i)*rowLen : (h+i)*rowLen+seg]
		for k := 0; k < 4; k++ {
			o := out[((2*i+k)%r)*seg : ((2*i+k)%r+1)*seg]
			lo, hi := db2Lo[k], db2Hi[k]
			for j := range o {
				o[j] += lo*a[j] + hi*d[j]
			}
		}
	}
	for i := 0; i < r; i++ {
		copy(x[i*rowLen:i*rowLen+seg], out[i*seg:(i+1)*seg])
	}
}

// db2Check returns the largest deviation of the filters from the
// orthonormality conditions (for tests).
func db2Check() float64 {
	var e float64
	for s := 0; s < 4; s += 2 {
		var hh, gg, hg, gh float64
		for k := 0; k+s < 4; k++ {
			hh += float64(db2Lo[k]) * float64(db2Lo[k+s])
			gg += float64(db2Hi[k]) * float64(db2Hi[k+s])
			hg += float64(db2Lo[k]) * float64(db2Hi[k+s])
			gh += float64(db2Hi[k]) * float64(db2Lo[k+s])
		}
		want := 0.0
		if s == 0 {
			want = 1
		}
		e = max(e, math.Abs(hh-want), math.Abs(gg-want), math.Abs(hg), math.Abs(gh))
	}
	return e
}
