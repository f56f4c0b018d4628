package kspace

import (
	"math"
	"math/rand/v2"
)

func randomComplex(rng *rand.Rand, n int) []complex64 {
	x := make([]complex64, n)
	for i := range x {
		x[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	return x
}

// relErr is ‖a − b‖/‖b‖ (‖a − b‖ when b is zero).
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
