package fft

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/tweedie-recon/tweedie/internal/barttest"
	"github.com/tweedie-recon/tweedie/num/array"
)

func randomComplex(rng *rand.Rand, n int) []complex64 {
	x := make([]complex64, n)
	for i := range x {
		x[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	return x
}

// naiveFFT2c is the definition: F[k1,k2] = N^{-1/2} Σ x[n1,n2]
// exp(∓2πi((k1−m1)(n1−m1)/R + (k2−m2)(n2−m2)/C)), m = size/2, computed
// separably in complex128.
func naiveFFT2c(x []complex64, rows, cols int, inverse bool) []complex128 {
	sign := -1.0
	if inverse {
		sign = 1
	}
	mr, mc := rows/2, cols/2
	tmp := make([]complex128, rows*cols)
	for r := 0; r < rows; r++ {
		for k := 0; k < cols; k++ {
			var s complex128
			for n := 0; n < cols; n++ {
				ph := sign * 2 * math.Pi * float64((k-mc)*(n-mc)) / float64(cols)
				s += complex128(x[r*cols+n]) * cmplx.Exp(complex(0, ph))
			}
			tmp[r*cols+k] = s
		}
	}
	out := make([]complex128, rows*cols)
	for k := 0; k < rows; k++ {
		for c := 0; c < cols; c++ {
			var s complex128
			for n := 0; n < rows; n++ {
				ph := sign * 2 * math.Pi * float64((k-mr)*(n-mr)) / float64(rows)
				s += tmp[n*cols+c] * cmplx.Exp(complex(0, ph))
			}
			out[k*cols+c] = s / complex(math.Sqrt(float64(rows*cols)), 0)
		}
	}
	return out
}

func relErr64(a []complex64, b []complex128) float64 {
	var num, den float64
	for i := range a {
		d := complex128(a[i]) - b[i]
		num += real(d)*real(d) + imag(d)*imag(d)
		den += real(b[i])*real(b[i]) + imag(b[i])*imag(b[i])
	}
	return math.Sqrt(num / den)
}

func relErr(a, b []complex64) float64 {
	var num, den float64
	for i := range a {
		d := complex128(a[i]) - complex128(b[i])
		num += real(d)*real(d) + imag(d)*imag(d)
		den += real(complex128(b[i]))*real(complex128(b[i])) + imag(complex128(b[i]))*imag(complex128(b[i]))
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func TestFFTFactor(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []int
	}{{1, nil}, {256, []int{4, 4, 4, 4}}, {320, []int{4, 4, 4, 5}}, {368, []int{4, 4, 23}},
		{218, []int{2, 109}}, {640, []int{4, 4, 4, 2, 5}}, {49, []int{7, 7}}, {97, []int{97}}} {
		got := factor(c.n)
		if fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("factor(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestFFTAgainstNaiveDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	sizes := [][2]int{{1, 1}, {1, 8}, {2, 3}, {3, 5}, {4, 4}, {5, 7}, {6, 10}, {7, 9}, {8, 12},
		{11, 13}, {16, 25}, {9, 49}, {22, 15}, {30, 20}, {27, 125}, {4, 218}, {23, 8}, {64, 64}}
	for _, sz := range sizes {
		rows, cols := sz[0], sz[1]
		const batch = 3
		x := randomComplex(rng, batch*rows*cols)
		p, err := NewPlan(rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range []bool{false, true} {
			y := make([]complex64, len(x))
			if inv {
				err = p.Inverse(y, x)
			} else {
				err = p.Forward(y, x)
			}
			if err != nil {
				t.Fatal(err)
			}
			n := rows * cols
			for b := 0; b < batch; b++ {
				want := naiveFFT2c(x[b*n:(b+1)*n], rows, cols, inv)
				if e := relErr64(y[b*n:(b+1)*n], want); e > 2e-6 {
					t.Errorf("%d×%d inverse=%v batch %d: relative error %.3g against the naive DFT", rows, cols, inv, b, e)
				}
			}
		}
	}
}

func TestFFTRoundTripAndParseval(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 1))
	for _, sz := range [][2]int{{256, 256}, {320, 320}, {640, 368}, {368, 640}, {128, 128}, {218, 180}, {256, 218}, {97, 101}} {
		rows, cols := sz[0], sz[1]
		x := randomComplex(rng, 2*rows*cols)
		p, err := NewPlan(rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]complex64, len(x))
		if err := p.Forward(y, x); err != nil {
			t.Fatal(err)
		}
		var ex, ey float64
		for i := range x {
			ex += real(complex128(x[i]) * cmplx.Conj(complex128(x[i])))
			ey += real(complex128(y[i]) * cmplx.Conj(complex128(y[i])))
		}
		if math.Abs(ex-ey)/ex > 1e-6 {
			t.Errorf("%d×%d: ‖Fx‖²/‖x‖² − 1 = %.3g, not unitary", rows, cols, ey/ex-1)
		}
		z := make([]complex64, len(x))
		if err := p.Inverse(z, y); err != nil {
			t.Fatal(err)
		}
		if e := relErr(z, x); e > 1e-6 {
			t.Errorf("%d×%d: round trip relative error %.3g > 1e-6", rows, cols, e)
		}
		// in place gives the same result
		w := append([]complex64(nil), x...)
		if err := p.Forward(w, w); err != nil {
			t.Fatal(err)
		}
		if e := relErr(w, y); e != 0 {
			t.Errorf("%d×%d: in-place result differs by %.3g", rows, cols, e)
		}
	}
}

func TestFFTWorkersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	x := randomComplex(rng, 5*96*80)
	p1, _ := NewPlan(96, 80, Workers(1))
	p4, _ := NewPlan(96, 80, Workers(4))
	a, b := make([]complex64, len(x)), make([]complex64, len(x))
	p1.Forward(a, x)
	p4.Forward(b, x)
	if e := relErr(a, b); e != 0 {
		t.Errorf("1 and 4 workers differ by %.3g", e)
	}
}

func TestFFTErrors(t *testing.T) {
	if _, err := NewPlan(0, 4); err == nil {
		t.Error("NewPlan(0, 4) succeeded")
	}
	if _, err := NewPlan(4, 1<<20); err == nil {
		t.Error("NewPlan(4, 2^20) succeeded")
	}
	p, _ := NewPlan(4, 4)
	if err := p.Forward(make([]complex64, 15), make([]complex64, 15)); err == nil {
		t.Error("length 15 accepted for 4×4")
	}
	if err := p.Forward(make([]complex64, 16), make([]complex64, 32)); err == nil {
		t.Error("mismatched dst accepted")
	}
	if err := p.Forward(nil, nil); err == nil {
		t.Error("empty input accepted")
	}
}

// TestBARTFFTAgreement compares Forward/Inverse with `bart fft -u [-i] 3`
// on the same bytes (a C-order (coils, rows, cols) array is BART's
// [cols, rows, coils]).
func TestBARTFFTAgreement(t *testing.T) {
	barttest.Path(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 1))
	for _, sz := range [][2]int{{256, 256}, {64, 48}, {40, 30}, {15, 21}, {9, 16}} {
		rows, cols := sz[0], sz[1]
		const coils = 3
		x := randomComplex(rng, coils*rows*cols)
		if err := array.WriteCFL(filepath.Join(dir, "x"), array.CFLDims(coils, 1, rows, cols), x); err != nil {
			t.Fatal(err)
		}
		barttest.Run(t, dir, "fft", "-u", "3", "x", "y")
		barttest.Run(t, dir, "fft", "-u", "-i", "3", "x", "z")
		_, yb, err := array.ReadCFL(filepath.Join(dir, "y"))
		if err != nil {
			t.Fatal(err)
		}
		_, zb, err := array.ReadCFL(filepath.Join(dir, "z"))
		if err != nil {
			t.Fatal(err)
		}
		y, z := make([]complex64, len(x)), make([]complex64, len(x))
		FFT2c(y, x, rows, cols)
		IFFT2c(z, x, rows, cols)
		ey, ez := relErr(y, yb), relErr(z, zb)
		// BART centres with a phase ramp, numpy with a shift: they agree
		// for odd sizes too.
		if ey > 1e-5 || ez > 1e-5 {
			t.Errorf("%d×%d: relative difference to bart fft -u: forward %.3g, inverse %.3g", rows, cols, ey, ez)
		}
		t.Logf("%d×%d: relative difference to bart fft -u: forward %.2g, inverse %.2g", rows, cols, ey, ez)
	}
}

// BenchmarkFFT2c256x8 is one forward fft2c of 8 coils of 256×256.
func BenchmarkFFT2c256x8(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 1))
	x := randomComplex(rng, 8*256*256)
	y := make([]complex64, len(x))
	p, _ := NewPlan(256, 256)
	b.SetBytes(int64(len(x) * 8))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Forward(y, x)
	}
}

// BenchmarkFFT2c320x640x16 is a fastMRI-sized knee slice (640×368 would be
// the raw size; 320×640 crop) with 16 coils.
func BenchmarkFFT2c368x640x16(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 2))
	x := randomComplex(rng, 16*640*368)
	y := make([]complex64, len(x))
	p, _ := NewPlan(640, 368)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Forward(y, x)
	}
}

// BenchmarkGonumFFT2_256x8 does the same 2D transform (without shifts) with
// gonum's dsp/fourier (complex128, one goroutine per coil), for comparison.
func BenchmarkGonumFFT2_256x8(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 1))
	const n = 256
	x := make([]complex128, 8*n*n)
	for i := range x {
		x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		done := make(chan bool)
		for c := 0; c < 8; c++ {
			go func(img []complex128) {
				f := fourier.NewCmplxFFT(n)
				col := make([]complex128, n)
				for r := 0; r < n; r++ {
					f.Coefficients(img[r*n:(r+1)*n], img[r*n:(r+1)*n])
				}
				for c := 0; c < n; c++ {
					for r := 0; r < n; r++ {
						col[r] = img[r*n+c]
					}
					f.Coefficients(col, col)
					for r := 0; r < n; r++ {
						img[r*n+c] = col[r]
					}
				}
				done <- true
			}(x[c*n*n : (c+1)*n*n])
		}
		for c := 0; c < 8; c++ {
			<-done
		}
	}
}

// BenchmarkBARTFFT256x8 times one `bart fft -u 3` process on 256×256×8
// coils, file input and output included; BenchmarkBARTCopy256x8 times
// `bart copy` on the same file, the process and I/O overhead alone. Their
// difference estimates BART's transform time.
func BenchmarkBARTFFT256x8(b *testing.B)  { benchBART(b, 1, "fft", "-u", "3") }
func BenchmarkBARTCopy256x8(b *testing.B) { benchBART(b, 1, "copy") }

// BenchmarkBARTFFT256x8Amortised runs `bart fft -u 3` on 64 batches of
// 256×256×8 in one process and reports the time per batch of 8 coils.
func BenchmarkBARTFFT256x8Amortised(b *testing.B)  { benchBART(b, 64, "fft", "-u", "3") }
func BenchmarkBARTCopy256x8Amortised(b *testing.B) { benchBART(b, 64, "copy") }

func benchBART(b *testing.B, reps int, args ...string) {
	bart := barttest.Path(b)
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(5, 1))
	x := randomComplex(rng, reps*8*256*256)
	if err := array.WriteCFL(filepath.Join(dir, "x"), []int{256, 256, 1, 8, 1, 1, 1, 1, 1, 1, reps}, x); err != nil {
		b.Fatal(err)
	}
	args = append(args, "x", "y")
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		barttest.RunExe(b, dir, bart, args...)
	}
	b.ReportMetric(float64(time.Since(t0).Nanoseconds())/float64(b.N*reps), "ns/batch8")
}

// TestFFTMatchesNumpy checks Forward against numpy's
// fftshift(fft2(ifftshift(x), norm="ortho")), fastMRI's fft2c.
func TestFFTMatchesNumpy(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("numpy not available")
	}
	dir := t.TempDir()
	for _, sz := range [][2]int{{6, 10}, {7, 9}, {32, 21}} {
		x := randomComplex(rand.New(rand.NewPCG(99, 1)), 2*sz[0]*sz[1])
		in, out := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
		array.WriteNPYFile(in, []int{2, sz[0], sz[1]}, x)
		script := `import numpy as np; x = np.load('` + in + `'); ax = (-2, -1)
np.save('` + out + `', np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=ax), axes=ax, norm='ortho'), axes=ax).astype(np.complex64))`
		if o, err := exec.Command(py, "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("numpy: %v %s", err, o)
		}
		a, err := array.ReadNPYFile(out)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]complex64, len(x))
		FFT2c(y, x, sz[0], sz[1])
		if e := relErr(y, a.Complex64); e > 1e-6 {
			t.Errorf("%v: relative difference to numpy fft2c %.3g", sz, e)
		}
	}
}

// naiveDFT is the definition of Plan1's forward (sign −1) and unscaled
// backward (sign +1) transforms, in complex128.
func naiveDFT(x []complex64, sign float64) []complex128 {
	n := len(x)
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for j, v := range x {
			s += complex128(v) * cmplx.Exp(complex(0, sign*2*math.Pi*float64(j*k%n)/float64(n)))
		}
		out[k] = s
	}
	return out
}

// TestPlan1AgainstNaiveDFT: every vector of an interleaved batch is the
// DFT of its input, for power-of-two lengths (FBP's padded detector rows),
// mixed radices and a prime; Inverse undoes Forward.
func TestPlan1AgainstNaiveDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 8, 64, 1024, 12, 30, 17} {
		for _, v := range []int{1, 3, 16} {
			p, err := NewPlan1(n)
			if err != nil {
				t.Fatal(err)
			}
			x := randomComplex(rng, n*v)
			y := append([]complex64(nil), x...)
			if err := p.Forward(y, v); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < v; j++ {
				col, got := make([]complex64, n), make([]complex64, n)
				for i := 0; i < n; i++ {
					col[i], got[i] = x[i*v+j], y[i*v+j]
				}
				if e := relErr64(got, naiveDFT(col, -1)); e > 2e-6 {
					t.Errorf("n=%d v=%d vector %d: relative error %.3g", n, v, j, e)
				}
			}
			if err := p.Inverse(y, v); err != nil {
				t.Fatal(err)
			}
			if e := relErr(y, x); e > 2e-6 {
				t.Errorf("n=%d v=%d: Inverse(Forward(x)) differs from x by %.3g", n, v, e)
			}
		}
	}
	p, _ := NewPlan1(8)
	if p.Forward(make([]complex64, 12), 2) == nil || p.Forward(make([]complex64, 8), 0) == nil {
		t.Error("a batch of the wrong length was accepted")
	}
	if _, err := NewPlan1(0); err == nil {
		t.Error("length 0 accepted")
	}
	if _, err := NewPlan1(MaxLen + 1); err == nil {
		t.Error("length above MaxLen accepted")
	}
}
