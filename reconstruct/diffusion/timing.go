package diffusion

import (
	"context"
	"math/rand/v2"
	"time"
)

// TimeEvaluation measures what one network evaluation of one image costs on
// the hardware the denoiser runs on: a warm-up call of one image (the first
// call of a session pays for memory planning and kernel selection), then one
// timed call of n images at mid-schedule. It returns the time per image and
// the evaluations spent (1 + n).
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
	if err := den.Denoise(ctx, dst[:il], x[:il], 1, lv); err != nil {
		return 0, 1, err
	}
	t0 := time.Now()
	if err := den.Denoise(ctx, dst, x, n, lv); err != nil {
		return 0, 1 + n, err
	}
	return time.Since(t0) / time.Duration(n), 1 + n, nil
}
