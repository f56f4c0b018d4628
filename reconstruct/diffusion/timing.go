package diffusion

import (
	"context"
	"math/rand/v2"
	"time"
)

// TimeEvaluation measures what one network evaluation of one image costs on
// the hardware the denoiser runs on: a warm-up call of n images (the first
// call of a session at a shape pays for memory planning and kernel
// selection: timing it instead measured 3–4× the steady cost), then one
// timed call of the same n images at mid-schedule. It returns the time per
// image and the evaluations spent (2n).
func TimeEvaluation(ctx context.Context, den Denoiser, n int) (time.Duration, int, error) {
	info := den.Info()
	n = max(1, n)
	if info.MaxBatch > 0 {
		n = min(n, info.MaxBatch)
	}
	il := info.ImageLen()
	x := make([]float32, n*il)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]float32, len(x))
	lv := info.Schedule.At(0.5)
	if err := den.Denoise(ctx, dst, x, n, lv); err != nil {
		return 0, n, err
	}
	t0 := time.Now()
	if err := den.Denoise(ctx, dst, x, n, lv); err != nil {
		return 0, 2 * n, err
	}
	return time.Since(t0) / time.Duration(n), 2 * n, nil
}
