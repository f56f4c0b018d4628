package onnx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// BenchmarkShippedCTBatch: the shipped CT prior (models/) at 256², the
// per-image cost of one network call by batch size. The sampler sends all
// slices × samples of a series together unless the batch is bounded; the
// rounds are interleaved so that load on a shared machine falls on every
// batch size alike.
func BenchmarkShippedCTBatch(b *testing.B) {
	_ = runtime(b)
	rt, err := onnx.Open(onnx.Config{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	m, err := rt.Load("../../models/tweedie_ct_unet.onnx")
	if err != nil {
		b.Fatal(err)
	}
	d, err := m.Denoiser(256, 256)
	if err != nil {
		b.Fatal(err)
	}
	sizes := []int{1, 2, 4, 8, 10}
	il := d.Info().ImageLen()
	x := make([]float32, 10*il)
	for i := range x {
		x[i] = float32(i%7) * 0.1
	}
	dst := make([]float32, len(x))
	lv := d.Info().Schedule.At(0.2)
	per := make([]time.Duration, len(sizes))
	for _, n := range sizes { // warm-up: memory planning per batch size
		if err := d.Denoise(context.Background(), dst[:n*il], x[:n*il], n, lv); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, n := range sizes {
			t0 := time.Now()
			if err := d.Denoise(context.Background(), dst[:n*il], x[:n*il], n, lv); err != nil {
				b.Fatal(err)
			}
			per[k] += time.Since(t0) / time.Duration(n)
		}
	}
	for k, n := range sizes {
		b.ReportMetric(float64(per[k].Microseconds())/1e3/float64(b.N), fmt.Sprintf("ms/image@%d", n))
	}
}
