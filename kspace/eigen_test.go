package kspace

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// randomHermitian returns a full n×n Hermitian matrix (row-major) with a
// decaying spectrum and optionally repeated eigenvalues.
func randomHermitian(rng *rand.Rand, n int, repeated bool) []complex128 {
	// A = Σ_i λ_i x_i x_iᴴ with random x_i gives a PSD matrix of rank n.
	a := make([]complex128, n*n)
	for i := 0; i < n; i++ {
		lam := math.Exp(-float64(i) / 3)
		if repeated && i%3 == 1 {
			lam = math.Exp(-float64(i-1) / 3)
		}
		x := make([]complex128, n)
		for k := range x {
			x[k] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				a[r*n+c] += complex(lam, 0) * x[r] * cmplx.Conj(x[c])
			}
		}
	}
	// plus a random Hermitian part so it is not PSD
	for r := 0; r < n; r++ {
		for c := 0; c <= r; c++ {
			z := complex(rng.NormFloat64(), rng.NormFloat64()) * 0.1
			if r == c {
				z = complex(real(z), 0)
			}
			a[r*n+c] += z
			if r != c {
				a[c*n+r] += cmplx.Conj(z)
			}
		}
	}
	return a
}

func lowerColMajor(a []complex128, n int) []complex128 {
	l := make([]complex128, n*n)
	for j := 0; j < n; j++ {
		for k := j; k < n; k++ {
			l[j*n+k] = a[k*n+j]
		}
	}
	return l
}

func TestHermTopEigen(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 2, 3, 5, 17, 64, 150} {
		for _, rep := range []bool{false, true} {
			a := randomHermitian(rng, n, rep)
			// reference: the real symmetric embedding [[Re, −Im], [Im, Re]]
			// has each eigenvalue twice
			emb := mat.NewSymDense(2*n, nil)
			for r := 0; r < n; r++ {
				for c := 0; c < n; c++ {
					z := a[r*n+c]
					emb.SetSym(r, c, real(z))
					emb.SetSym(n+r, n+c, real(z))
					emb.SetSym(n+r, c, imag(z))
				}
			}
			var es mat.EigenSym
			if !es.Factorize(emb, false) {
				t.Fatal("gonum EigenSym failed")
			}
			ref := es.Values(nil)
			slices.Sort(ref)
			slices.Reverse(ref)
			k := (n + 1) / 2
			vals, vecs, err := hermTopEigen(lowerColMajor(a, n), n, func([]float64) int { return k })
			if err != nil {
				t.Fatal(err)
			}
			scale := math.Abs(ref[0]) + math.Abs(ref[len(ref)-1])
			for i := range vals {
				if math.Abs(vals[i]-ref[2*i]) > 1e-10*scale {
					t.Errorf("n=%d: eigenvalue %d = %.15g, gonum %.15g", n, i, vals[i], ref[2*i])
				}
			}
			for i, u := range vecs {
				// ‖A u − λ u‖
				var res float64
				for r := 0; r < n; r++ {
					var s complex128
					for c := 0; c < n; c++ {
						s += a[r*n+c] * u[c]
					}
					d := s - complex(vals[i], 0)*u[r]
					res += real(d)*real(d) + imag(d)*imag(d)
				}
				if math.Sqrt(res) > 1e-9*scale {
					t.Errorf("n=%d repeated=%v: residual of eigenvector %d is %.3g", n, rep, i, math.Sqrt(res))
				}
				for j := 0; j <= i; j++ {
					var dot complex128
					for r := 0; r < n; r++ {
						dot += cmplx.Conj(vecs[j][r]) * u[r]
					}
					want := 0.0
					if i == j {
						want = 1
					}
					if cmplx.Abs(dot-complex(want, 0)) > 1e-9 {
						t.Errorf("n=%d repeated=%v: ⟨u%d, u%d⟩ = %v", n, rep, j, i, dot)
					}
				}
			}
		}
	}
}

// TestHermTopEigenDegenerate uses exactly repeated eigenvalues: A = U·Λ·Uᴴ
// with U a product of Householder reflections.
func TestHermTopEigenDegenerate(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const n = 40
	lam := make([]float64, n)
	for i := range lam {
		lam[i] = float64(5 - i/8) // eigenvalues 5, 4, 3, 2, 1, eight times each
	}
	a := make([]complex128, n*n)
	for i := range lam {
		a[i*n+i] = complex(lam[i], 0)
	}
	for h := 0; h < 4; h++ {
		w := make([]complex128, n)
		var nw float64
		for k := range w {
			w[k] = complex(rng.NormFloat64(), rng.NormFloat64())
			nw += real(w[k] * cmplx.Conj(w[k]))
		}
		// A ← H A H, H = I − 2wwᴴ/‖w‖²
		apply := func(m []complex128, left bool) {
			for j := 0; j < n; j++ {
				var s complex128
				for k := 0; k < n; k++ {
					if left {
						s += cmplx.Conj(w[k]) * m[k*n+j]
					} else {
						s += m[j*n+k] * w[k]
					}
				}
				s *= complex(2/nw, 0)
				for k := 0; k < n; k++ {
					if left {
						m[k*n+j] -= w[k] * s
					} else {
						m[j*n+k] -= s * cmplx.Conj(w[k])
					}
				}
			}
		}
		apply(a, true)
		apply(a, false)
	}
	vals, vecs, err := hermTopEigen(lowerColMajor(a, n), n, func([]float64) int { return 20 })
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if math.Abs(vals[i]-lam[i]) > 1e-12*5 {
			t.Errorf("eigenvalue %d = %.15g, want %g", i, vals[i], lam[i])
		}
	}
	for i := range vecs {
		for j := 0; j <= i; j++ {
			var dot complex128
			for r := 0; r < n; r++ {
				dot += cmplx.Conj(vecs[j][r]) * vecs[i][r]
			}
			want := complex(0, 0)
			if i == j {
				want = 1
			}
			if cmplx.Abs(dot-want) > 1e-9 {
				t.Errorf("⟨u%d, u%d⟩ = %v", j, i, dot)
			}
		}
		var res float64
		for r := 0; r < n; r++ {
			var s complex128
			for c := 0; c < n; c++ {
				s += a[r*n+c] * vecs[i][c]
			}
			d := s - complex(vals[i], 0)*vecs[i][r]
			res += real(d * cmplx.Conj(d))
		}
		if math.Sqrt(res) > 1e-10 {
			t.Errorf("residual of eigenvector %d is %.3g", i, math.Sqrt(res))
		}
	}
}
