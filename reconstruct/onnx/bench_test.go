package onnx_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

var (
	benchOnce  sync.Once
	benchModel string
	benchErr   error
)

// benchUNet exports the random-weight benchmark UNet (tools/
// export_bench_unet.py, Debian's python3-onnx) once per run.
func benchUNet(b *testing.B) string {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tweedie-bench")
		if err != nil {
			benchErr = err
			return
		}
		out, err := exec.Command("/usr/bin/python3", "../../tools/export_bench_unet.py", "--out", dir).CombinedOutput()
		if err != nil {
			benchErr = fmt.Errorf("export_bench_unet.py: %v\n%s", err, out)
			return
		}
		benchModel = filepath.Join(dir, "bench_unet.onnx")
	})
	if benchErr != nil {
		b.Skip(benchErr)
	}
	return benchModel
}

func benchDenoiser(b *testing.B, n int) (*onnx.Sized, *onnx.Model) {
	_ = runtime(b) // skips (or fails in CI) without the library
	// The device comes from TWEEDIE_ONNX_DEVICE (default auto).
	rt, err := onnx.Open(onnx.Config{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	m, err := rt.Load(benchUNet(b))
	if err != nil {
		b.Fatal(err)
	}
	d, err := m.Denoiser(n, n)
	if err != nil {
		b.Fatal(err)
	}
	return d, m
}

// peakRSS is the process's peak resident set (VmHWM) in MiB.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkNFE: one network evaluation of the 2.3 M-parameter UNet on one
// 2-channel image.
func BenchmarkNFE(b *testing.B) {
	for _, n := range []int{128, 256} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			d, m := benchDenoiser(b, n)
			x := make([]float32, d.Info().ImageLen())
			for i := range x {
				x[i] = float32(i%7) * 0.1
			}
			dst := make([]float32, len(x))
			lv := d.Info().Schedule.At(0.5)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := d.Denoise(context.Background(), dst, x, 1, lv); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(peakRSS(), "peak-RSS-MiB")
			b.Logf("provider %s", m.Provider())
		})
	}
}

// BenchmarkNFEBatch: one batched network evaluation of the same UNet on 8
// images of 256² (the slices or samples the sampler sends together);
// ms/image is the per-image cost, the throughput measure.
func BenchmarkNFEBatch(b *testing.B) {
	const n, batch = 256, 8
	b.Run(fmt.Sprintf("%dx%d", n, batch), func(b *testing.B) {
		d, m := benchDenoiser(b, n)
		x := make([]float32, batch*d.Info().ImageLen())
		for i := range x {
			x[i] = float32(i%7) * 0.1
		}
		dst := make([]float32, len(x))
		lv := d.Info().Schedule.At(0.5)
		if err := d.Denoise(context.Background(), dst, x, batch, lv); err != nil { // warm-up
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := d.Denoise(context.Background(), dst, x, batch, lv); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N*batch), "ms/image")
		b.ReportMetric(peakRSS(), "peak-RSS-MiB")
		b.Logf("provider %s", m.Provider())
	})
}

// BenchmarkDDSSlice: one 2D slice by DDS with 50 network evaluations
// (η = 0.85, γ = 1000, 5 CG steps), 8-coil SENSE at 4×.
func BenchmarkDDSSlice(b *testing.B) {
	for _, n := range []int{128, 256} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			d, _ := benchDenoiser(b, n)
			maps, err := kspace.CoilMaps(n, n, kspace.CoilConfig{Coils: 8})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			lines, _, err := kspace.RandomUniformACS(n, 4, 0.08, rng)
			if err != nil {
				b.Fatal(err)
			}
			mask := kspace.LineMask(n, lines)
			img := kspace.RealToComplex(kspace.SheppLogan(n, n))
			k, _, err := kspace.Simulate(img, maps, mask, 0.01, rng)
			if err != nil {
				b.Fatal(err)
			}
			newA := func() linop.Op[complex64] { a, _ := kspace.NewSense(maps, mask); return a }
			sl := []diffusion.Slice[complex64]{{A: newA(), NewA: newA, Y: k}}
			cfg := diffusion.Config{Method: diffusion.DDS, Steps: 50, Eta: 0.85, Gamma: 1000, CGIters: 5, Seed: 1}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := diffusion.Sample(context.Background(), d, sl, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(peakRSS(), "peak-RSS-MiB")
		})
	}
}
