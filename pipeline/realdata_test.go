package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/internal/shareddata"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/wrap"
	"github.com/tweedie-recon/tweedie/reconstruct"
	"github.com/tweedie-recon/tweedie/reconstruct/metrics"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// realKSpace wraps the real 8-coil scanner k-space of ../shared/data
// (230×180, Poisson-disc 8×; no multiple of 16) as a raw-data instance.
func realKSpace(t *testing.T) string {
	t.Helper()
	k, err := wrap.LoadKSpace(shareddata.Path(t, "mri", "raw", "sigpy_brain_8coil_ksp.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Rows != 230 || k.Cols != 180 || k.Coils != 8 {
		t.Fatalf("k-space %d coils × %d × %d, want 8 × 230 × 180", k.Coils, k.Rows, k.Cols)
	}
	k.Mask = rawdata.InferMask(k.Data, k.Slices*k.Coils, k.Rows, k.Cols)
	id := wrap.Identity{Orientation: "axial", PixelMM: 1, SliceMM: 5}
	if k.Header, err = id.Header("MR", k.Slices, k.Rows, k.Cols); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "real.dcm")
	if err := rawdata.WriteMR(path, k); err != nil {
		t.Fatal(err)
	}
	return path
}

func needONNX(t *testing.T) *reconstruct.ScoreRuntime {
	t.Helper()
	if _, err := (onnx.Config{}).ConfigFromEnv().LibraryPath(); err != nil {
		t.Fatalf("no ONNX Runtime (scripts/install-onnxruntime.sh): %v", err)
	}
	t.Setenv(onnx.EnvModels, "")
	return reconstruct.NewScoreRuntime(onnx.Config{Device: "cpu"})
}

// TestRealKSpaceDDS: the real scanner k-space (230×180, not a size the MR
// model lists) reconstructs with dds, the image padded to 240×192 and
// cropped back, as `tweedie recon` runs it (Load, then the reconstructor)
// and through a gateway node that received it from DCMTK's storescu (the
// path of `tweedie serve`). There is no fully sampled reference: the dds
// image must agree in structure with l1-wavelet on the same data (SSIM over
// the image, L = l1-wavelet's maximum).
func TestRealKSpaceDDS(t *testing.T) {
	score := needONNX(t)
	path := realKSpace(t)
	acqs, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	in := acqs[0].Input
	env := reconstruct.Env{Log: zerolog.Nop(), Score: score}
	l1, err := reconstruct.Run(context.Background(), "l1-wavelet", in, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"seed": "1", "nfe": "20"}
	dds, err := reconstruct.Run(context.Background(), "dds", in, params, env)
	if err != nil {
		t.Fatalf("dds on 230×180: %v", err)
	}
	if dds.Rows != 230 || dds.Cols != 180 {
		t.Fatalf("dds image %d×%d, want 230×180", dds.Rows, dds.Cols)
	}
	peak := 0.0
	for _, v := range l1.Volume {
		peak = max(peak, float64(v))
	}
	s := metrics.SSIM2D(l1.Volume, dds.Volume, 230, 180, peak)
	t.Logf("%s: SSIM against l1-wavelet %.3f", dds.Description, s)
	if !(s > 0.85) {
		t.Errorf("SSIM of dds against l1-wavelet %.3f, want > 0.85", s)
	}

	peers.Need(t, "storescu")
	state := t.TempDir()
	cfgText := fmt.Sprintf(`node:
  listen: 127.0.0.1:0
  state_dir: %s
series:
  timeout: 1m
http:
  listen: ""
spool:
  min_free: 0
routing:
  rules:
    - name: mr-raw
      match:
        all:
          - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
      actions: [{reconstruct: {reconstructor: dds, params: {seed: "1", nfe: "20"}, destinations: [folder]}}]
  fallback: [{discard: {}}]
`, state)
	logs := startAndSend(t, cfgText, Runners(score), []string{path})
	var got []string
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline) && len(got) == 0; {
		got, _ = filepath.Glob(filepath.Join(state, "outgoing", "*", "*.dcm"))
		if len(got) == 0 {
			got, _ = filepath.Glob(filepath.Join(state, "outgoing", "*.dcm"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(got) != 1 {
		t.Fatalf("%d derived images, want 1\nlog:\n%s", len(got), logs.String())
	}
	ds, err := dicom.ParseFile(got[0], nil, dicom.SkipPixelData())
	if err != nil {
		t.Fatal(err)
	}
	val := func(tg tag.Tag) string {
		e, err := ds.FindElementByTag(tg)
		if err != nil {
			return ""
		}
		return fmt.Sprint(e.Value.GetValue())
	}
	if val(tag.Rows) != "[230]" || val(tag.Columns) != "[180]" || !strings.Contains(val(tag.SeriesDescription), "dds") {
		t.Errorf("served image: rows %s columns %s description %s", val(tag.Rows), val(tag.Columns), val(tag.SeriesDescription))
	}
}
