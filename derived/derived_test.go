package derived

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/rawdata"
)

func sampleSeries(modality string) *Series {
	var h rawdata.Header
	h.Modality = modality
	h.PatientName, h.PatientID = "Doe^Jane", "PID1"
	h.StudyInstanceUID, h.FrameOfReferenceUID = rawdata.NewUID(), rawdata.NewUID()
	h.StudyDate, h.StudyTime = "20260101", "120000"
	h.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
	h.Positions = [][3]float64{{-60, -60, 0}, {-60, -60, 2}}
	h.PixelSpacing = [2]float64{1.5, 1.5}
	h.SliceThickness = 2
	h.Acquisition.UID = rawdata.NewUID()
	s := &Series{Source: h, Slices: 2, Rows: 16, Cols: 12, SeriesNumber: 1001, SeriesDescription: "tweedie cg-sense",
		SeriesInstanceUID: rawdata.NewUID()}
	s.SOPInstanceUID = func(i int) string { return rawdata.DeriveUID(s.SeriesInstanceUID, string(rune('a'+i))) }
	s.Volume = make([]float32, 2*16*12)
	for i := range s.Volume {
		if modality == "CT" {
			s.Volume[i] = float32(i%200*10 - 1000)
		} else {
			s.Volume[i] = float32(i%97) * 1e-4
		}
	}
	return s
}

func dciodvfyErrors(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("dciodvfy"); err != nil {
		t.Skip("dciodvfy not installed")
	}
	out, _ := exec.Command("dciodvfy", path).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Error") {
			errs = append(errs, l)
		}
	}
	if len(errs) > 0 {
		t.Logf("dciodvfy:\n%s", out)
	}
	return errs
}

func TestWriteValidSeries(t *testing.T) {
	for _, mod := range []string{"MR", "CT"} {
		t.Run(mod, func(t *testing.T) {
			s := sampleSeries(mod)
			paths, err := Write(t.TempDir(), s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != 2 {
				t.Fatalf("%d files", len(paths))
			}
			for _, p := range paths {
				if errs := dciodvfyErrors(t, p); len(errs) > 0 {
					t.Errorf("%s: %s", filepath.Base(p), strings.Join(errs, "\n"))
				}
			}
			// Read back: geometry and the stored values times the slope give
			// the volume back (to the 16-bit quantisation).
			ds, err := dicom.ParseFile(paths[1], nil)
			if err != nil {
				t.Fatal(err)
			}
			get := func(tg tag.Tag) []string {
				e, err := ds.FindElementByTag(tg)
				if err != nil {
					t.Fatalf("%v missing", tg)
				}
				v, _ := e.Value.GetValue().([]string)
				return v
			}
			if get(tag.ImagePositionPatient)[2] != "2" || get(tag.StudyInstanceUID)[0] != s.Source.StudyInstanceUID ||
				get(tag.SeriesInstanceUID)[0] != s.SeriesInstanceUID || get(tag.ImageType)[0] != "DERIVED" {
				t.Errorf("header: pos %v", get(tag.ImagePositionPatient))
			}
			slope, icpt := 1.0, 0.0
			if mod == "CT" {
				slope, icpt = parseF(get(tag.RescaleSlope)[0]), parseF(get(tag.RescaleIntercept)[0])
			} else {
				e, err := ds.FindElementByTag(tagValueScale)
				if err != nil {
					t.Fatal("MR image without ValueScale")
				}
				slope = e.Value.GetValue().([]float64)[0]
			}
			pe, _ := ds.FindElementByTag(tag.PixelData)
			px := pe.Value.GetValue().(dicom.PixelDataInfo).Frames[0].NativeData
			maxv := 0.0
			for _, v := range s.Volume {
				maxv = math.Max(maxv, math.Abs(float64(v)))
			}
			for k := 0; k < 16*12; k++ {
				want := float64(s.Volume[16*12+k])
				pv, err := px.GetPixel(k%12, k/12)
				if err != nil {
					t.Fatal(err)
				}
				stored := pv[0]
				if mod == "CT" {
					stored = int(int16(uint16(stored)))
				}
				got := float64(stored)*slope + icpt
				if math.Abs(got-want) > 1e-4*maxv+1e-9 {
					t.Fatalf("voxel %d: %g, want %g", k, got, want)
				}
			}
		})
	}
}

func parseF(s string) float64 {
	var f float64
	_, _ = fmtSscan(s, &f)
	return f
}

var fmtSscan = func(s string, f *float64) (int, error) { return fmt.Sscan(s, f) }
