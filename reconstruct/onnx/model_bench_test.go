package onnx_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// Harnesses for a given model file (the INT8 evaluation of issue 17,
// tools/train/quantize.py); both skip unless their environment is set.

// TestModelEps writes the raw network output eps of TWEEDIE_EVAL_MODEL
// (an .onnx with its card beside it) for the images of TWEEDIE_EVAL_IN
// (float32 .npy, [N, C, H, W]) at the time input TWEEDIE_EVAL_T to
// TWEEDIE_EVAL_OUT: quantize.py compares it with the torch network.
func TestModelEps(t *testing.T) {
	path, in, out := os.Getenv("TWEEDIE_EVAL_MODEL"), os.Getenv("TWEEDIE_EVAL_IN"), os.Getenv("TWEEDIE_EVAL_OUT")
	if path == "" || in == "" || out == "" {
		t.Skip("TWEEDIE_EVAL_MODEL, TWEEDIE_EVAL_IN and TWEEDIE_EVAL_OUT not set")
	}
	tv, err := strconv.ParseFloat(os.Getenv("TWEEDIE_EVAL_T"), 64)
	if err != nil {
		t.Fatalf("TWEEDIE_EVAL_T: %v", err)
	}
	rt := runtime(t)
	m, err := rt.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := array.ReadNPYFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 4 || a.Float32 == nil {
		t.Fatalf("%s: want float32 [N, C, H, W], have %s %v", in, a.Dtype, a.Shape)
	}
	d, err := m.Denoiser(a.Shape[2], a.Shape[3])
	if err != nil {
		t.Fatal(err)
	}
	// α = σ = 1: the eps model's x0 estimate is x − eps.
	res := make([]float32, len(a.Float32))
	if err := d.Denoise(context.Background(), res, a.Float32, a.Shape[0], diffusion.Level{Input: tv, Alpha: 1, Sigma: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range res {
		res[i] = a.Float32[i] - res[i]
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := array.WriteNPYFloat32(f, a.Shape, res); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkModelNFE: one network evaluation of the model file
// TWEEDIE_BENCH_MODEL (card beside it) at 128² and 256², batch 1 and 8;
// ms/image is the per-image cost. For float against INT8, alternate the
// variable between runs of a compiled test binary (interleaved rounds).
func BenchmarkModelNFE(b *testing.B) {
	path := os.Getenv("TWEEDIE_BENCH_MODEL")
	if path == "" {
		b.Skip("TWEEDIE_BENCH_MODEL not set")
	}
	_ = runtime(b)
	rt, err := onnx.Open(onnx.Config{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	m, err := rt.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{128, 256} {
		for _, batch := range []int{1, 8} {
			b.Run(fmt.Sprintf("%dx%d", n, batch), func(b *testing.B) {
				d, err := m.Denoiser(n, n)
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, batch*d.Info().ImageLen())
				for i := range x {
					x[i] = float32(i%7)*0.1 - 0.3
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
			})
		}
	}
}
