package sinogram

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time, so that benchmarks
// can report CPU per operation, which other load on the machine disturbs
// far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the metric cpu-ms/op from a start value of cpuTime.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms/op")
}

// benchSetup returns the 720-view skimage-compatible geometry for a 256²
// slice of the validation chest (attenuation) and its sinogram.
func benchSetup(b *testing.B, views int) (*Projector, []float32, []float32) {
	hu, n := loadCT(b, "ct1_chest_hu_256.npy", 0)
	mu := muImage(hu)
	g, grid, err := ForSkimageRadon(n, EvenAngles(views, 0, 180), 0.957)
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewParallelProjector(g, grid)
	if err != nil {
		b.Fatal(err)
	}
	sino, _ := p.Project(mu)
	return p, mu, sino
}

// BenchmarkFBP720 times FBP (Ram-Lak) of a 720-view, 363-bin sinogram
// into 256², the case of TestFBPVersusIradon; compare with
// testdata/time_iradon.py (scikit-image iradon on the same problem).
func BenchmarkFBP720(b *testing.B) {
	p, _, sino := benchSetup(b, 720)
	f, err := NewFBPFor(p, FBPConfig{})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, p.InLen())
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := f.Reconstruct(x, sino); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

func BenchmarkProject720(b *testing.B) {
	p, mu, sino := benchSetup(b, 720)
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		p.Apply(sino, mu)
	}
	reportCPU(b, c0)
}

func BenchmarkBackProject720(b *testing.B) {
	p, mu, sino := benchSetup(b, 720)
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		p.Adjoint(mu, sino)
	}
	reportCPU(b, c0)
}
