package kspace

import (
	"slices"
	"testing"
)

// TestVolumeSim: the k-space of a volume is (slices, coils, rows, cols),
// zero on the lines not sampled and not elsewhere; one seed gives the same
// acquisition, another seed another one; the mask's actual acceleration is
// cols over the lines sampled; an unknown mask kind is refused.
func TestVolumeSim(t *testing.T) {
	const slicesN, rows, cols = 2, 24, 32
	vol := SheppLogan(rows, cols)
	vol = append(vol, SheppLogan(rows, cols)...)
	run := func(cfg VolumeSimConfig) (*VolumeSim, []complex64) {
		t.Helper()
		s, err := NewVolumeSim(rows, cols, cfg)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Simulate(vol)
		if err != nil {
			t.Fatal(err)
		}
		return s, k
	}
	for _, kind := range []string{MaskEquispaced, MaskRandom} {
		cfg := VolumeSimConfig{Coils: 3, Accel: 4, ACS: 0.1, Mask: kind, Noise: 0.01, Phase: 1, Seed: 7}
		s, k := run(cfg)
		if len(k) != slicesN*cfg.Coils*rows*cols {
			t.Fatalf("%s: %d values", kind, len(k))
		}
		m := s.LineMask1D()
		sampled := 0
		for i, v := range k {
			on := m[i%cols] == 1
			if (v == 0) == on {
				t.Fatalf("%s: value %d is %v on a line sampled %v", kind, i, v, on)
			}
			if i < cols && on {
				sampled++
			}
		}
		if got := float64(cols) / float64(sampled); got != s.Actual {
			t.Errorf("%s: actual acceleration %g, the mask has %g", kind, s.Actual, got)
		}
		if _, again := run(cfg); !slices.Equal(k, again) {
			t.Errorf("%s: the same seed gave another acquisition", kind)
		}
		cfg.Seed++
		if _, other := run(cfg); slices.Equal(k, other) {
			t.Errorf("%s: another seed gave the same acquisition", kind)
		}
	}
	if _, err := NewVolumeSim(rows, cols, VolumeSimConfig{Coils: 3, Accel: 4, ACS: 0.1, Mask: "radial"}); err == nil {
		t.Error("mask kind radial accepted")
	}
	s, _ := run(VolumeSimConfig{Coils: 1, Accel: 4, ACS: 0.1, Mask: MaskEquispaced})
	if _, err := s.Simulate(vol[:rows*cols-1]); err == nil {
		t.Error("a partial slice was simulated")
	}
}
