package diffusion_test

import (
	"context"
	"testing"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
)

// recorder is a denoiser that keeps its last input and returns x̂0 = 2·x at
// every pixel: a per-pixel map, so padding must not change the image's own
// pixels.
type recorder struct {
	info diffusion.ModelInfo
	last []float32
}

func (r *recorder) Info() diffusion.ModelInfo { return r.info }
func (r *recorder) Denoise(_ context.Context, dst, x []float32, n int, _ diffusion.Level) error {
	r.last = append(r.last[:0], x...)
	for i, v := range x {
		dst[i] = 2 * v
	}
	return nil
}

func TestPadModes(t *testing.T) {
	// A 2-channel 3×4 image in an 8×8 canvas (offsets 2 and 2).
	rec := &recorder{info: diffusion.ModelInfo{Name: "rec", Channels: 2, Rows: 8, Cols: 8}}
	img := make([]float32, 2*3*4)
	for i := range img {
		img[i] = float32(i + 1)
	}
	for _, c := range []struct {
		mode diffusion.PadMode
		// canvas row 0 of channel 0 (image rows fold as 2,1,0,1,2,1,0,1 in reflect)
		row0 []float32
	}{
		{diffusion.PadReflect, []float32{11, 10, 9, 10, 11, 12, 11, 10}}, // k=-2 → row 2; cols -2..5 → 2,1,0,1,2,3,2,1
		{diffusion.PadEdge, []float32{1, 1, 1, 2, 3, 4, 4, 4}},
		{diffusion.PadZero, []float32{0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		den, err := diffusion.Pad(rec, 3, 4, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		if i := den.Info(); i.Rows != 3 || i.Cols != 4 || i.Channels != 2 {
			t.Fatalf("%v: info %+v", c.mode, i)
		}
		dst := make([]float32, len(img))
		if err := den.Denoise(context.Background(), dst, img, 1, diffusion.Level{Alpha: 1}); err != nil {
			t.Fatal(err)
		}
		for i, v := range dst {
			if v != 2*img[i] {
				t.Fatalf("%v: pixel %d = %v, want %v (cropping misplaced)", c.mode, i, v, 2*img[i])
			}
		}
		for j, want := range c.row0 {
			if got := rec.last[j]; got != want {
				t.Errorf("%v: canvas row 0 = %v, want %v", c.mode, rec.last[:8], c.row0)
				break
			}
		}
		// The image sits at (2, 2) in both channels.
		for ch := 0; ch < 2; ch++ {
			for i := 0; i < 3; i++ {
				for j := 0; j < 4; j++ {
					if got, want := rec.last[ch*64+(i+2)*8+j+2], img[ch*12+i*4+j]; got != want {
						t.Fatalf("%v: channel %d pixel (%d,%d) = %v, want %v", c.mode, ch, i, j, got, want)
					}
				}
			}
		}
	}
	if _, err := diffusion.Pad(rec, 9, 4, diffusion.PadReflect); err == nil {
		t.Error("Pad accepted an image larger than the canvas")
	}
	if d, _ := diffusion.Pad(rec, 8, 8, diffusion.PadReflect); d != diffusion.Denoiser(rec) {
		t.Error("Pad of the model's own size is not the model itself")
	}
	if _, err := diffusion.ParsePadMode("mirror"); err == nil {
		t.Error("ParsePadMode accepted mirror")
	}
}
