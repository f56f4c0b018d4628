package linop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestDB2Filters(t *testing.T) {
	if e := db2Check(); e > 1e-7 {
		t.Errorf("Daubechies-2 filters deviate from orthonormality by %.3g", e)
	}
	// lowpass sums to √2, highpass to 0 with one more vanishing moment
	var s, g0, g1 float64
	for k := 0; k < 4; k++ {
		s += float64(db2Lo[k])
		g0 += float64(db2Hi[k])
		g1 += float64(k) * float64(db2Hi[k])
	}
	if math.Abs(s-math.Sqrt2) > 1e-7 || math.Abs(g0) > 1e-7 || math.Abs(g1) > 1e-7 {
		t.Errorf("Σh = %g (want √2), Σg = %g, Σk·g = %g (want 0)", s, g0, g1)
	}
}

func testWavelet[T Scalar](t *testing.T, name string) {
	rng := rand.New(rand.NewPCG(21, 1))
	for _, sz := range [][2]int{{256, 256}, {128, 96}, {218, 180}, {30, 22}, {16, 16}, {8, 6}, {2, 2}, {64, 33}, {320, 368}} {
		rows, cols := sz[0], sz[1]
		w, err := NewWavelet[T](rows, cols, WaveletConfig{})
		if err != nil {
			t.Fatalf("%s %d×%d: %v", name, rows, cols, err)
		}
		for _, shift := range [][2]int{{0, 0}, {3, 5}, {-1, 7}} {
			w.SetShift(shift[0], shift[1])
			if e := CheckAdjoint[T](w, rng); e > 1e-6 {
				t.Errorf("%s %d×%d shift %v: adjoint test error %.3g", name, rows, cols, shift, e)
			} else if rows == 256 && shift[0] == 3 {
				t.Logf("%s %d×%d, %d levels, shift %v: CheckAdjoint %.2g", name, rows, cols, w.Levels(), shift, e)
			}
			x := make([]T, rows*cols)
			Random(rng, x)
			y := make([]T, len(x))
			z := make([]T, len(x))
			w.Apply(y, x)
			w.Adjoint(z, y)
			d := make([]T, len(x))
			copy(d, z)
			Axpy(d, FromComplex[T](-1), x)
			if e := Norm2(d) / Norm2(x); e > 1e-5 {
				t.Errorf("%s %d×%d shift %v: reconstruction error %.3g", name, rows, cols, shift, e)
			}
			if e := math.Abs(Norm2(y)/Norm2(x) - 1); e > 1e-5 {
				t.Errorf("%s %d×%d: ‖Wx‖/‖x‖ − 1 = %.3g, not orthogonal", name, rows, cols, e)
			}
		}
	}
}

func TestWaveletComplex(t *testing.T) { testWavelet[complex64](t, "complex64") }
func TestWaveletFloat(t *testing.T)   { testWavelet[float32](t, "float32") }

// A linear ramp has no detail coefficients away from the periodic wrap
// (db2 has two vanishing moments), and a constant only a coarse band.
func TestWaveletVanishingMoments(t *testing.T) {
	const rows, cols = 64, 64
	w, err := NewWavelet[float32](rows, cols, WaveletConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Levels() != 3 {
		t.Errorf("64×64: %d levels, want 3 (64→32→16→8, BART's minimum 16)", w.Levels())
	}
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = 3
	}
	y := make([]float32, len(x))
	w.Apply(y, x)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			v := y[r*cols+c]
			if (r >= 8 || c >= 8) && math.Abs(float64(v)) > 1e-5 {
				t.Fatalf("constant image: detail coefficient (%d, %d) = %g", r, c, v)
			}
		}
	}
	// ramp along cols: first-level detail along cols vanishes except where
	// the filter wraps around (the last coefficient)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			x[r*cols+c] = float32(c)
		}
	}
	w1, _ := NewWavelet[float32](rows, cols, WaveletConfig{MinRows: 64, MinCols: 64})
	if w1.Levels() != 1 {
		t.Fatalf("minimum 64: %d levels, want 1", w1.Levels())
	}
	w1.Apply(y, x)
	for c := cols / 2; c < cols-1; c++ {
		if v := y[c]; math.Abs(float64(v)) > 1e-4 {
			t.Errorf("ramp: detail coefficient at col %d = %g", c, v)
		}
	}
}

// Shifting the image by the shift gives the unshifted transform.
func TestWaveletShift(t *testing.T) {
	const rows, cols = 32, 48
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([]complex64, rows*cols)
	Random(rng, x)
	w, _ := NewWavelet[complex64](rows, cols, WaveletConfig{})
	w.RandomShift(rng)
	dr, dc := w.Shift()
	if dr >= 1<<2 || dc >= 1<<2 {
		t.Errorf("shift (%d, %d) outside [0, 4) for two levels per axis", dr, dc)
	}
	w.SetShift(5, 7)
	y := make([]complex64, len(x))
	w.Apply(y, x)
	xs := make([]complex64, len(x))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			xs[r*cols+c] = x[((r+5)%rows)*cols+(c+7)%cols]
		}
	}
	w.SetShift(0, 0)
	y0 := make([]complex64, len(x))
	w.Apply(y0, xs)
	for i := range y {
		if y[i] != y0[i] {
			t.Fatalf("coefficient %d: %v with shift, %v on the shifted image", i, y[i], y0[i])
		}
	}
}

func TestWaveletErrors(t *testing.T) {
	if _, err := NewWavelet[float32](3, 5, WaveletConfig{}); err == nil {
		t.Error("3×5 accepted")
	}
	if _, err := NewWavelet[float32](0, 8, WaveletConfig{}); err == nil {
		t.Error("0×8 accepted")
	}
	if _, err := NewWavelet[float32](8, 8, WaveletConfig{MinRows: 1}); err == nil {
		t.Error("minimum 1 accepted")
	}
	w, _ := NewWavelet[float32](8, 8, WaveletConfig{})
	defer func() {
		if recover() == nil {
			t.Error("wrong length did not panic")
		}
	}()
	w.Apply(make([]float32, 64), make([]float32, 63))
}

func BenchmarkWavelet256(b *testing.B) {
	w, _ := NewWavelet[complex64](256, 256, WaveletConfig{})
	x := make([]complex64, 256*256)
	Random(rand.New(rand.NewPCG(1, 1)), x)
	y := make([]complex64, len(x))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Apply(y, x)
		w.Adjoint(x, y)
	}
}

// TestWaveletAgainstPyWavelets compares one level with PyWavelets'
// dwt2(x, 'db2', mode='periodization'), which starts each filter one sample
// earlier: ours on x equals pywt's on x rolled by −1 along both axes. Skipped
// when python3 with pywt is not installed.
func TestWaveletAgainstPyWavelets(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	for _, p := range []string{"/usr/bin/python3", py} {
		if exec.Command(p, "-c", "import pywt, numpy").Run() == nil {
			py = p
			break
		}
		py = ""
	}
	if py == "" {
		t.Skip("pywt not installed")
	}
	const rows, cols = 12, 10
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, rows*cols)
	Random(rng, x)
	var in strings.Builder
	for _, v := range x {
		fmt.Fprintf(&in, "%.9g ", v)
	}
	script := fmt.Sprintf(`
import sys, numpy as np, pywt
x = np.array(sys.stdin.read().split(), dtype=np.float64).reshape(%d, %d)
cA, (cH, cV, cD) = pywt.dwt2(np.roll(x, (-1, -1), axis=(0, 1)), 'db2', mode='periodization')
print(' '.join('%%.9g' %% v for v in np.block([[cA, cV], [cH, cD]]).ravel()))
`, rows, cols)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != rows*cols {
		t.Fatalf("python returned %d values", len(fields))
	}
	w, _ := NewWavelet[float32](rows, cols, WaveletConfig{MinRows: rows, MinCols: cols})
	y := make([]float32, len(x))
	w.Apply(y, x)
	for i, f := range fields {
		v, _ := strconv.ParseFloat(f, 64)
		if math.Abs(v-float64(y[i])) > 1e-5 {
			t.Fatalf("coefficient (%d, %d): %g, pywt %g", i/cols, i%cols, y[i], v)
		}
	}
}
