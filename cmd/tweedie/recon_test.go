package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
)

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, code := run(t, args...)
	if code != 0 {
		t.Fatalf("tweedie %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func evalJSON(t *testing.T, args ...string) (psnr, ssim float64) {
	t.Helper()
	out := mustRun(t, append([]string{"eval"}, args...)...)
	var r struct{ PSNR, SSIM float64 }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval output %q: %v", out, err)
	}
	return r.PSNR, r.SSIM
}

// dciodvfyClean fails the test on any line dciodvfy starts with "Error".
func dciodvfyClean(t *testing.T, files []string) {
	t.Helper()
	peers.Need(t, "dciodvfy")
	for _, f := range files {
		out, _ := exec.Command("dciodvfy", f).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Error") {
				t.Errorf("%s: %s", filepath.Base(f), l)
			}
		}
	}
}

// storeInOrthanc sends the files and checks that Orthanc holds each in the
// given study.
func storeInOrthanc(t *testing.T, o *peers.Orthanc, files []string, study string) {
	t.Helper()
	var infos []dimse.FileInfo
	for _, f := range files {
		fi, err := dimse.ReadFileInfo(f)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, fi)
	}
	out, code := run(t, append([]string{"send", fmt.Sprintf("%s@127.0.0.1:%d", o.AET, o.DICOMPort)}, files...)...)
	if code != 0 || !strings.Contains(out, msg.StatusString(0)) {
		t.Fatalf("Orthanc refused the series: %s", out)
	}
	for _, fi := range infos {
		id := o.LookupInstance(t, fi.SOPInstanceUID)
		if id == "" {
			t.Fatalf("Orthanc does not hold %s", fi.SOPInstanceUID)
		}
		var tags map[string]string
		o.Get(t, "/instances/"+id+"/simplified-tags", &tags)
		if tags["StudyInstanceUID"] != study {
			t.Errorf("instance in study %s, want %s", tags["StudyInstanceUID"], study)
		}
	}
}

// TestMRWrapReconEval: k-space simulated from the validation MRI, wrapped
// as raw data, reconstructed by `tweedie recon`: the derived series passes
// dciodvfy, Orthanc accepts it in the study, and CG-SENSE beats zero filling.
func TestMRWrapReconEval(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	images := filepath.Join(peers.SharedData(t), "mri", "itk_t1_coronal_128.npy")
	mustRun(t, "simulate", "mr", "--images", images, "--slices", "26:28", "--coils", "6", "--accel", "4",
		"--kspace", p("k.npy"), "--mask-out", p("m.npy"), "--ref", p("ref.npy"))
	mustRun(t, "wrap", "mr", "--kspace", p("k.npy"), "--mask", p("m.npy"), "--out", p("raw"), "--slices-per-instance", "1",
		"--orientation", "coronal", "--pixel-mm", "2", "--slice-mm", "3", "--patient-id", "PID-7")
	raws, _ := filepath.Glob(p("raw/*.dcm"))
	if len(raws) != 2 {
		t.Fatalf("wrap wrote %v", raws)
	}
	k, err := rawdata.ReadMR(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	dciodvfyClean(t, raws)
	mustRun(t, append([]string{"recon", "--reconstructor", "zero-filled", "--out", p("zf"), "--export", p("zf.npy")}, raws...)...)
	mustRun(t, append([]string{"recon", "--reconstructor", "cg-sense", "--set", "lambda=0.01", "--out", p("cg"), "--export", p("cg.npy")}, raws...)...)
	zf, _ := evalJSON(t, "--ref", p("ref.npy"), "--test", p("zf.npy"))
	cg, _ := evalJSON(t, "--ref", p("ref.npy"), "--test", p("cg.npy"))
	t.Logf("PSNR zero-filled %.2f dB, CG-SENSE %.2f dB", zf, cg)
	if cg < zf+3 {
		t.Errorf("CG-SENSE %.2f dB does not beat zero filling %.2f dB by 3 dB", cg, zf)
	}
	out, _ := filepath.Glob(p("cg/*.dcm"))
	if len(out) != 2 {
		t.Fatalf("recon wrote %v", out)
	}
	dciodvfyClean(t, out)
	// The preview shows the images (windowed in the physical scale: a wrong
	// window gives an all-black or all-white picture).
	mustRun(t, append([]string{"preview", "--out", p("cg.png")}, out...)...)
	pf, err := os.Open(p("cg.png"))
	if err != nil {
		t.Fatal(err)
	}
	pimg, err := png.Decode(pf)
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	var sum, n float64
	b := pimg.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := pimg.At(x, y).RGBA()
			sum += float64(r >> 8)
			n++
		}
	}
	if mean := sum / n; mean < 10 || mean > 200 {
		t.Errorf("preview mean grey %.1f: the window is off", mean)
	}
	// The same reconstruction again is the same series (deterministic UIDs).
	mustRun(t, append([]string{"recon", "--reconstructor", "cg-sense", "--set", "lambda=0.01", "--out", p("cg2")}, raws...)...)
	again, _ := filepath.Glob(p("cg2/*.dcm"))
	if filepath.Base(again[0]) != filepath.Base(out[0]) {
		t.Errorf("a rerun made new UIDs: %s vs %s", filepath.Base(again[0]), filepath.Base(out[0]))
	}
	if testing.Short() {
		return
	}
	storeInOrthanc(t, peers.StartOrthanc(t, nil), out, k.StudyInstanceUID)
}

func TestCTWrapReconEval(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	images := filepath.Join(peers.SharedData(t), "ct", "ct1_chest_hu_256.npy")
	mustRun(t, "simulate", "ct", "--images", images, "--views", "16", "--sinogram", p("s.npy"), "--ref", p("ref.npy"))
	mustRun(t, "wrap", "ct", "--sinogram", p("s.npy"), "--angles", "linspace:0:180:16", "--geometry", "parallel",
		"--detector-mm", "0.957", "--image-size", "256", "--pixel-mm", "0.957", "--out", p("s.dcm"))
	dciodvfyClean(t, []string{p("s.dcm")})
	s, err := rawdata.ReadCT(p("s.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "recon", "--reconstructor", "fbp", "--out", p("fbp"), "--export", p("fbp.npy"), p("s.dcm"))
	mustRun(t, "recon", "--reconstructor", "admm-tv", "--set", "iters=40", "--out", p("tv"), "--export", p("tv.npy"), p("s.dcm"))
	fbp, _ := evalJSON(t, "--ct", "--ref", p("ref.npy"), "--test", p("fbp.npy"))
	tv, _ := evalJSON(t, "--ct", "--ref", p("ref.npy"), "--test", p("tv.npy"))
	t.Logf("16 views: FBP %.2f dB, ADMM-TV %.2f dB", fbp, tv)
	if tv < fbp+5 {
		t.Errorf("ADMM-TV %.2f dB does not beat FBP %.2f dB by 5 dB at 16 views", tv, fbp)
	}
	out, _ := filepath.Glob(p("tv/*.dcm"))
	dciodvfyClean(t, out)
	if testing.Short() {
		return
	}
	storeInOrthanc(t, peers.StartOrthanc(t, nil), out, s.StudyInstanceUID)
}

// TestReconRefusesMalformedRawData: a clear error naming the problem and a
// non-zero exit, never a crash.
func TestReconRefusesMalformedRawData(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "k.dcm")
	k := &rawdata.MRKSpace{Slices: 1, Coils: 2, Rows: 8, Cols: 8, Data: make([]complex64, 128), Mask: make([]uint8, 64)}
	for i := range k.Data {
		k.Data[i] = complex(float32(i), 1)
	}
	for i := range k.Mask {
		k.Mask[i] = 1
	}
	k.StudyInstanceUID, k.SeriesInstanceUID, k.SOPInstanceUID = rawdata.NewUID(), rawdata.NewUID(), rawdata.NewUID()
	k.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
	k.Positions = [][3]float64{{0, 0, 0}}
	k.PixelSpacing, k.SliceThickness, k.ImageRows, k.ImageCols = [2]float64{1, 1}, 1, 8, 8
	k.Acquisition = rawdata.Acquisition{UID: rawdata.NewUID(), NumInstances: 1, InstanceIndex: 1, TotalSlices: 1}
	if err := rawdata.WriteMR(good, k); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "t.dcm")
	os.WriteFile(truncated, b[:len(b)-40], 0o600)
	out, code := run(t, "recon", "--reconstructor", "zero-filled", "--out", filepath.Join(dir, "o"), truncated)
	if code != 1 || !strings.Contains(out, "array data has") && !strings.Contains(out, "truncated") {
		t.Errorf("truncated object: exit %d\n%s", code, out)
	}
	out, code = run(t, "recon", "--reconstructor", "fbp", "--out", filepath.Join(dir, "o"), good)
	if code != 1 || !strings.Contains(out, "for CT data, the input is MR") {
		t.Errorf("CT reconstructor on MR data: exit %d\n%s", code, out)
	}
	out, code = run(t, "recon", "--reconstructor", "cg-sense", "--set", "lamda=1", "--out", filepath.Join(dir, "o"), good)
	if code != 1 || !strings.Contains(out, `unknown parameter "lamda"`) {
		t.Errorf("misspelt parameter: exit %d\n%s", code, out)
	}
}

// TestServeReconstructsRawData: wrapped MR k-space (two instances, one per
// slice, declaring their count) goes by storescu to `tweedie serve`; a rule
// sends MR raw data to cg-sense; Orthanc receives a derived series of two
// images in the study of the raw data, with the geometry of the input.
func TestServeReconstructsRawData(t *testing.T) {
	peers.Need(t, "storescu", "Orthanc")
	if testing.Short() {
		t.Skip("starts Orthanc")
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	images := filepath.Join(peers.SharedData(t), "mri", "itk_t1_coronal_128.npy")
	mustRun(t, "simulate", "mr", "--images", images, "--slices", "26:28", "--coils", "6", "--accel", "4",
		"--kspace", p("k.npy"), "--mask-out", p("m.npy"), "--ref", p("ref.npy"))
	mustRun(t, "wrap", "mr", "--kspace", p("k.npy"), "--mask", p("m.npy"), "--out", p("raw"), "--slices-per-instance", "1",
		"--orientation", "coronal", "--pixel-mm", "2", "--slice-mm", "3")
	raws, _ := filepath.Glob(p("raw/*.dcm"))
	k, err := rawdata.ReadMR(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	o := peers.StartOrthanc(t, nil)
	port := peers.FreePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
series:
  timeout: 1m
http:
  listen: ""
destinations:
  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}
routing:
  rules:
    - name: mr-raw
      match:
        all:
          - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
          - "(0077,1001)": {equals: MR_KSPACE}
      actions: [{reconstruct: {reconstructor: cg-sense, params: {lambda: "0.01"}, destinations: [pacs]}}]
  fallback: [{discard: {}}]
`, port, p("state"), o.DICOMPort))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	if out, err := storescuCmd(port, raws...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	// The series completes at its declared instance count, not the 1 min timeout.
	waitUntil(t, 45*time.Second, "2 reconstructed images in Orthanc", func() bool { return orthancInstances(t, o) >= 2 })
	// On the defaults (jobs.isolation: process) the reconstruction ran in
	// a worker process of serve, whose log lines serve forwards naming it.
	if l := logs.String(); !strings.Contains(l, "worker process started") || !regexp.MustCompile(`job started[^\n]*process=worker-0`).MatchString(l) {
		t.Errorf("the job did not run in a worker process named in serve's log")
	}
	var ids []string
	o.Get(t, "/instances", &ids)
	for _, id := range ids {
		var tags map[string]string
		o.Get(t, "/instances/"+id+"/simplified-tags", &tags)
		if tags["StudyInstanceUID"] != k.StudyInstanceUID || tags["Modality"] != "MR" || !strings.Contains(tags["ImageType"], "DERIVED") ||
			!strings.Contains(tags["SeriesDescription"], "cg-sense") || tags["ImageOrientationPatient"] != `1\0\0\0\0\-1` {
			t.Errorf("derived instance: %v", tags)
		}
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", logs.String())
	}
}

// TestWrapBARTCFL: `tweedie wrap mr` reads BART's .cfl/.hdr with dims
// [readout, phase, 1, coils, …, slices in dim 13] and gives the same object
// as the fastMRI-layout .npy of the same k-space.
func TestWrapBARTCFL(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	const S, C, R, P = 2, 3, 8, 6 // slices, coils, readout (rows), phase (cols)
	npy := make([]complex64, S*C*R*P)
	for i := range npy {
		npy[i] = complex(float32(i%11), float32(i%7)-3)
	}
	// Column-major BART array: index r + R·(p + P·(c + C·(13th dim s))).
	dims := make([]int, 16)
	for i := range dims {
		dims[i] = 1
	}
	dims[0], dims[1], dims[3], dims[13] = R, P, C, S
	cfl := make([]complex64, len(npy))
	for s := 0; s < S; s++ {
		for c := 0; c < C; c++ {
			for r := 0; r < R; r++ {
				for q := 0; q < P; q++ {
					cfl[r+R*(q+P*(c+C*s))] = npy[((s*C+c)*R+r)*P+q]
				}
			}
		}
	}
	if err := array.WriteCFL(p("k"), dims, cfl); err != nil {
		t.Fatal(err)
	}
	if err := array.WriteNPYFile(p("k.npy"), []int{S, C, R, P}, npy); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "wrap", "mr", "--kspace", p("k.cfl"), "--out", p("a.dcm"))
	mustRun(t, "wrap", "mr", "--kspace", p("k.npy"), "--out", p("b.dcm"))
	a, err := rawdata.ReadMR(p("a.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rawdata.ReadMR(p("b.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Slices != S || a.Coils != C || a.Rows != R || a.Cols != P {
		t.Fatalf("cfl wrapped as %d × %d × %d × %d", a.Slices, a.Coils, a.Rows, a.Cols)
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("sample %d: cfl %v, npy %v", i, a.Data[i], b.Data[i])
		}
	}
	// A BART array with data in another dimension is refused by name.
	dims[5] = 2
	if err := array.WriteCFL(p("bad"), dims, append(cfl, cfl...)); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, "wrap", "mr", "--kspace", p("bad.cfl"), "--out", p("c.dcm")); code != 1 || !strings.Contains(out, "dimension 5") {
		t.Errorf("extra BART dimension: exit %d\n%s", code, out)
	}
}

// TestEmbeddedRouting: with no configuration, MR k-space goes to dds, a CT
// volume to mbir, anything else is discarded.
func TestEmbeddedRouting(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	images := filepath.Join(peers.SharedData(t), "mri", "itk_t1_coronal_128.npy")
	mustRun(t, "simulate", "mr", "--images", images, "--slices", "26:27", "--coils", "2", "--kspace", p("k.npy"))
	mustRun(t, "wrap", "mr", "--kspace", p("k.npy"), "--out", p("k.dcm"))
	sino := make([]float32, 2*4*10)
	if err := array.WriteNPYFile(p("s.npy"), []int{2, 4, 10}, sino); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "wrap", "ct", "--sinogram", p("s.npy"), "--angles", "linspace:0:180:4", "--out", p("s.dcm"))
	mr := filepath.Join(peers.SharedData(t), "dicom", "pydicom-deb", "MR_small.dcm")
	out := mustRun(t, "rules", "test", p("k.dcm"), p("s.dcm"), mr)
	for _, want := range []string{"mr-kspace", "reconstruct", "dds", "ct-sinogram-volume", "mbir", "discard"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules test output lacks %q:\n%s", want, out)
		}
	}
}
