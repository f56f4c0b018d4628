package rawdata

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sampleMR() *MRKSpace {
	k := &MRKSpace{Slices: 2, Coils: 3, Rows: 8, Cols: 6}
	k.Data = make([]complex64, 2*3*8*6)
	for i := range k.Data {
		k.Data[i] = complex(float32(i%7)-3, float32(i%5)*0.5)
	}
	k.Mask = make([]uint8, 8*6)
	for r := 0; r < 8; r++ {
		for c := 0; c < 6; c += 2 {
			k.Mask[r*6+c] = 1
		}
	}
	k.PatientName, k.PatientID = "Doe^Jane", "PID1"
	k.StudyInstanceUID, k.SeriesInstanceUID, k.SOPInstanceUID = NewUID(), NewUID(), NewUID()
	k.FrameOfReferenceUID = NewUID()
	k.StudyDate, k.StudyTime, k.SeriesNumber, k.InstanceNumber = "20260101", "120000", 5, 1
	k.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
	k.Positions = [][3]float64{{-100, -100, 0}, {-100, -100, 5}}
	k.PixelSpacing = [2]float64{2, 2}
	k.SliceThickness = 5
	k.ImageRows, k.ImageCols = 8, 6
	k.Acquisition = Acquisition{UID: NewUID(), NumInstances: 1, InstanceIndex: 1, TotalSlices: 2}
	return k
}

func TestMRRoundTrip(t *testing.T) {
	k := sampleMR()
	path := filepath.Join(t.TempDir(), "k.dcm")
	if err := WriteMR(path, k); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMR(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range k.Data {
		if got.Data[i] != k.Data[i] {
			t.Fatalf("sample %d: %v, want %v", i, got.Data[i], k.Data[i])
		}
	}
	if string(got.Mask) != string(k.Mask) || got.PatientName != "Doe^Jane" || got.Positions[1] != k.Positions[1] ||
		got.StudyInstanceUID != k.StudyInstanceUID || got.ImageRows != 8 || got.Acquisition.UID != k.Acquisition.UID {
		t.Errorf("header differs: %+v", got.Header)
	}
	// DCMTK reads it as Raw Data and sees the private block.
	if _, err := exec.LookPath("dcmdump"); err == nil {
		out, err := exec.Command("dcmdump", "-q", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "RawDataStorage") || !strings.Contains(string(out), PrivateCreator) {
			t.Errorf("dcmdump: %v\n%s", err, out)
		}
	}
}

func TestMRMissingMaskIsInferred(t *testing.T) {
	k := sampleMR()
	for i := range k.Data {
		if k.Mask[i%(8*6)] == 0 {
			k.Data[i] = 0
		}
	}
	path := filepath.Join(t.TempDir(), "k.dcm")
	if err := WriteMR(path, k); err != nil {
		t.Fatal(err)
	}
	// Rewrite without the mask element by blanking it: simplest is to write a
	// variant whose mask is implied; here we check InferMask directly too.
	m := InferMask(k.Data, 6, 8, 6)
	if string(m) != string(k.Mask) {
		t.Fatal("inferred mask differs")
	}
}

// corrupt writes a valid object, then changes it through fn on the bytes.
func corrupt(t *testing.T, fn func(b []byte) []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k.dcm")
	if err := WriteMR(path, sampleMR()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, fn(b), 0o600)
	return path
}

func find(b []byte, tag Tag) int {
	pat := []byte{byte(tag >> 16), byte(tag >> 24), byte(tag), byte(tag >> 8)}
	return strings.Index(string(b), string(pat))
}

func TestMRMalformed(t *testing.T) {
	cases := map[string]struct {
		fn   func(b []byte) []byte
		want string
	}{
		"sizes disagree": {func(b []byte) []byte {
			i := find(b, tagArrayDims)
			b[i+12] = 4 // coils 3 → 4
			return b
		}, "dimensions"},
		"slices disagree with geometry": {func(b []byte) []byte {
			i := find(b, tagArrayDims)
			b[i+8] = 3 // slices 2 → 3
			return b
		}, "slice positions"},
		"NaN sample": {func(b []byte) []byte {
			i := find(b, tagArrayData) + 12 + 4*10
			copy(b[i:], []byte{0, 0, 0xc0, 0x7f})
			return b
		}, "is NaN"},
		"truncated": {func(b []byte) []byte { return b[:len(b)-100] }, "truncated"},
		"missing study UID": {func(b []byte) []byte {
			i := find(b, tagStudyInstanceUID)
			b[i+2] = 0x0F // retag as (0020,000F)
			return b
		}, "Study Instance UID"},
		"mask does not fit": {func(b []byte) []byte {
			i := find(b, tagMaskDims)
			b[i+8] = 9
			return b
		}, "sampling mask"},
		"huge dimension": {func(b []byte) []byte {
			i := find(b, tagArrayDims)
			copy(b[i+8:], []byte{0xff, 0xff, 0xff, 0x7f})
			return b
		}, "dimension"},
		"not ours": {func(b []byte) []byte {
			i := find(b, tagPrivateCreator)
			b[i+8] = 'X'
			return b
		}, "private creator"},
	}
	for name, c := range cases {
		_, err := ReadMR(corrupt(t, c.fn))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, c.want)
		}
	}
	// Validate refuses what WriteMR must not write.
	k := sampleMR()
	k.Data[3] = complex(float32(math.Inf(1)), 0)
	if err := WriteMR(filepath.Join(t.TempDir(), "x.dcm"), k); !errors.Is(err, ErrInvalid) {
		t.Errorf("writing an Inf sample: %v", err)
	}
}

func TestUIDs(t *testing.T) {
	a, b := NewUID(), NewUID()
	if a == b || len(a) > 64 || !strings.HasPrefix(a, "2.25.") {
		t.Errorf("NewUID: %s %s", a, b)
	}
	if DeriveUID("x", "y") != DeriveUID("x", "y") || DeriveUID("x", "y") == DeriveUID("xy") || len(DeriveUID("a")) > 64 {
		t.Error("DeriveUID is not a pure, injective-looking function")
	}
}
