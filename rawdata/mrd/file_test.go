package mrd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/rawdata/mrd/hdf5"
	"github.com/tweedie-recon/tweedie/rawdata/wrap"
)

func wrapIdentity(name, study string) wrap.Identity {
	return wrap.Identity{PatientName: name, StudyUID: study}
}

// shepp8 is testdata/shepp8.h5, written by Debian's ismrmrd-tools 1.8.0:
//
//	ismrmrd_generate_cartesian_shepp_logan -m 8 -c 2 -O 2 -a 2 -w 2 -C -n 0.01
//
// 8 × 8, 2 coils, readout oversampling 2, R = 2 with 2 calibration lines,
// a noise scan: 11 acquisitions (the noise scan, then two interleaved
// repetitions of 4 lines and 1 calibration line each).
func shepp8(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/shepp8.h5")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openBytes(b []byte) (*File, error) { return OpenReader(bytes.NewReader(b), int64(len(b)), "") }

// TestAcquisitionHeaderLayout: the binary header has ismrmrd.h's size and
// offsets (its static_asserts), and a file's head member copied field by
// field is the same bytes ismrmrd's C library wrote.
func TestAcquisitionHeaderLayout(t *testing.T) {
	if n := binary.Size(AcquisitionHeader{}); n != AcquisitionHeaderSize {
		t.Fatalf("binary size %d, want %d", n, AcquisitionHeaderSize)
	}
	var h AcquisitionHeader
	h.Version, h.Flags, h.NumberOfSamples, h.ChannelMask[0] = 0x0102, 1<<63|5, 0x0304, 0x0506
	h.DiscardPre, h.CenterSample, h.SampleTimeUs = 0x0708, 0x090a, 1.5
	h.Position[0], h.ReadDir[0], h.Idx.KSpaceEncodeStep1, h.UserInt[0], h.UserFloat[0] = 2.5, 1, 0x0b0c, -2, 3.5
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		off  int
		got  uint64
		want uint64
	}{
		{0, uint64(le.Uint16(b[0:])), 0x0102}, {2, le.Uint64(b[2:]), 1<<63 | 5}, {34, uint64(le.Uint16(b[34:])), 0x0304},
		{40, le.Uint64(b[40:]), 0x0506}, {168, uint64(le.Uint16(b[168:])), 0x0708}, {172, uint64(le.Uint16(b[172:])), 0x090a},
		{178, uint64(le.Uint32(b[178:])), 0x3fc00000}, {182, uint64(le.Uint32(b[182:])), 0x40200000}, {194, uint64(le.Uint32(b[194:])), 0x3f800000},
		{242, uint64(le.Uint16(b[242:])), 0x0b0c}, {276, uint64(le.Uint32(b[276:])), 0xfffffffe}, {308, uint64(le.Uint32(b[308:])), 0x40600000},
	} {
		if c.got != c.want {
			t.Errorf("offset %d holds %#x, want %#x", c.off, c.got, c.want)
		}
	}
	for _, fd := range headerFields {
		if fd.name == "idx.kspace_encode_step_1" && fd.off != 242 || fd.name == "user_float" && fd.off != 308 || fd.name == "channel_mask" && fd.off != 40 {
			t.Errorf("field %s at %d", fd.name, fd.off)
		}
	}
	back, err := ParseAcquisitionHeader(b)
	if err != nil || back != h {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if !h.Has(64) || !h.Has(1) || h.Has(2) || !h.Has(3) {
		t.Errorf("flags %#x", h.Flags)
	}

	raw := shepp8(t)
	f, err := openBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 11 {
		t.Fatalf("%d acquisitions, want 11", f.Len())
	}
	for i := 0; i < f.Len(); i++ {
		h, err := f.Head(i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := h.MarshalBinary()
		if row := f.rows[i*f.size:]; !bytes.Equal(row[:AcquisitionHeaderSize], b) {
			t.Fatalf("acquisition %d: the head member differs from the binary header", i)
		}
	}
	h0, _ := f.Head(0)
	if !h0.Has(IsNoiseMeasurement) || h0.NumberOfSamples != 16 || h0.ActiveChannels != 2 {
		t.Errorf("acquisition 0: %+v", h0)
	}
	d, err := f.Data(1, nil)
	if err != nil || len(d) != 32 {
		t.Errorf("acquisition 1: %d samples, %v", len(d), err)
	}
}

// TestOpenErrors: a truncated file, an absent group, a non-Cartesian
// trajectory written into the header, oversized lengths in the header of an
// acquisition and in the dataspace of the acquisitions: each an error that
// names it.
func TestOpenErrors(t *testing.T) {
	raw := shepp8(t)
	convert := func(b []byte, group string) error {
		f, err := OpenReader(bytes.NewReader(b), int64(len(b)), group)
		if err != nil {
			return err
		}
		_, _, err = Wrap(f.Header, f, WrapOptions{})
		return err
	}
	if err := convert(raw, ""); err != nil {
		t.Fatal(err)
	}
	// Truncated: every cut is an error wrapping hdf5.ErrFormat, or (where
	// only the generator's ground-truth arrays at the end are lost) a
	// conversion as good as the whole file's.
	for _, n := range []int{0, 4, 512, 2048, 8192, len(raw) / 2, len(raw) - 4096} {
		if err := convert(raw[:n], ""); err != nil && !errors.Is(err, hdf5.ErrFormat) {
			t.Errorf("truncated to %d bytes: %v", n, err)
		}
	}
	if err := convert(raw[:len(raw)/2], ""); err == nil || !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "ends early") {
		t.Errorf("truncated to half: %v, want an error that says so", err)
	}
	if err := convert(raw, "nothere"); err == nil || !strings.Contains(err.Error(), `no group "nothere"`) || !strings.Contains(err.Error(), "dataset") {
		t.Errorf("absent group: %v", err)
	}
	// The header's trajectory replaced in place (same length).
	from, to := "<trajectory>cartesian</trajectory>", "<trajectory>radial</trajectory>   "
	if i := bytes.Index(raw, []byte(from)); i < 0 {
		t.Fatal("trajectory not found in the file")
	}
	radial := bytes.Replace(raw, []byte(from), []byte(to), 1)
	if err := convert(radial, ""); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "non-Cartesian trajectory radial") {
		t.Errorf("radial: %v", err)
	}
	// number_of_samples of acquisition 1 (the row after the noise scan's)
	// set to 65535: the data no longer fit it.
	f, _ := openBytes(raw)
	rows := bytes.Index(raw, f.rows[:AcquisitionHeaderSize])
	if rows < 0 {
		t.Fatal("acquisition rows not found in the file")
	}
	big := bytes.Clone(raw)
	at := rows + f.size + 34 // a chunk per row, stored one after another
	if binary.LittleEndian.Uint16(big[at:]) != 16 {
		t.Skip("the generator's rows are not stored contiguously")
	}
	binary.LittleEndian.PutUint16(big[at:], 65535)
	if err := convert(big, ""); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("65535 samples: %v", err)
	}
	// The dataspace of the acquisitions: 11 → 2⁴⁰.
	pat := make([]byte, 8)
	binary.LittleEndian.PutUint64(pat, 11)
	for i := bytes.Index(raw, pat); i >= 0; {
		huge := bytes.Clone(raw)
		binary.LittleEndian.PutUint64(huge[i:], 1<<40)
		if err := convert(huge, ""); err != nil && (strings.Contains(err.Error(), "limit") || strings.Contains(err.Error(), "acquisitions")) {
			break
		}
		j := bytes.Index(raw[i+1:], pat)
		if j < 0 {
			t.Error("no dataspace of 11 acquisitions whose enlargement is refused")
			break
		}
		i += 1 + j
	}
}

// TestParseHeader: the generator's header reads; malformed, oversized and
// out-of-range headers are refused with the element named.
func TestParseHeader(t *testing.T) {
	f, err := openBytes(shepp8(t))
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header
	e := h.Encoding[0]
	if e.EncodedSpace.Matrix != (MatrixSize{16, 8, 1}) || e.ReconSpace.Matrix != (MatrixSize{8, 8, 1}) || e.EncodedSpace.FOV.X != 600 ||
		e.Trajectory != "cartesian" || e.ParallelImaging == nil || e.ParallelImaging.Acceleration.Step1 != 2 ||
		e.ParallelImaging.CalibrationMode != "interleaved" || e.Limits.Step1 == nil || e.Limits.Step1.Center != 4 ||
		h.System == nil || *h.System.ReceiverChannels != 2 || h.System.InstitutionName != "ISMRM Synthetic Imaging Lab" {
		t.Errorf("header: %+v %+v", e, h.System)
	}
	good := f.XML
	for _, c := range []struct{ name, from, to, want string }{
		{"not XML", "<ismrmrdHeader", "<ismrmrdHeader <", "ISMRMRD header"},
		{"no encoding", "<encoding>", "<notencoding>", "no <encoding>"},
		{"trajectory", "cartesian", "wobbly", `trajectory "wobbly"`},
		{"matrix", "<x>16</x>", "<x>70000</x>", "matrix 70000"},
		{"limits", "<maximum>7</maximum>", "<maximum>70000</maximum>", "kspace_encoding_step_1"},
		{"calibration", "interleaved", "sideways", `calibration mode "sideways"`},
		{"channels", "<receiverChannels>2</", "<receiverChannels>5000</", "5000 receiver channels"},
	} {
		x := strings.Replace(good, c.from, c.to, 1)
		if x == good {
			t.Fatalf("%s: %q not in the header", c.name, c.from)
		}
		if c.name == "no encoding" {
			x = strings.ReplaceAll(strings.ReplaceAll(good, "<encoding>", "<notencoding>"), "</encoding>", "</notencoding>")
		}
		if _, err := ParseHeader([]byte(x)); !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	huge := strings.Replace(good, "<version>", "<!--"+strings.Repeat("x", MaxHeaderBytes)+"--><version>", 1)
	if _, err := ParseHeader([]byte(huge)); !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a header over %d bytes: %v", MaxHeaderBytes, err)
	}
}

// TestWrapIdentity: patient, study and series come from the header where
// it has them; explicit values win; values DICOM cannot carry are left out.
func TestWrapIdentity(t *testing.T) {
	f, err := openBytes(shepp8(t))
	if err != nil {
		t.Fatal(err)
	}
	x := strings.Replace(f.XML, "<acquisitionSystemInformation>", `<subjectInformation><patientName>Doe^Jane</patientName><patientID>P-1</patientID>
<patientBirthdate>1970-02-03</patientBirthdate><patientGender>F</patientGender></subjectInformation>
<studyInformation><studyDate>2024-05-06</studyDate><studyTime>07:08:09.5</studyTime><studyID>S1</studyID>
<accessionNumber>12345</accessionNumber><studyDescription>phantom study</studyDescription><studyInstanceUID>1.2.3.4</studyInstanceUID></studyInformation>
<measurementInformation><measurementID>M1</measurementID><patientPosition>FFS</patientPosition><initialSeriesNumber>7</initialSeriesNumber>
<protocolName>gre</protocolName><frameOfReferenceUID>not a uid</frameOfReferenceUID></measurementInformation>
<acquisitionSystemInformation><systemVendor>ACME</systemVendor>`, 1)
	h, err := ParseHeader([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	ks, _, err := Wrap(h, f, WrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 {
		t.Fatalf("%d volumes, want 2 (the two interleaved repetitions)", len(ks))
	}
	k := ks[0]
	if k.PatientName != "Doe^Jane" || k.PatientID != "P-1" || k.PatientBirthDate != "19700203" || k.PatientSex != "F" ||
		k.StudyInstanceUID != "1.2.3.4" || k.StudyDate != "20240506" || k.StudyTime != "070809.5" || k.StudyID != "S1" ||
		k.AccessionNumber != "12345" || k.StudyDesc != "phantom study" || k.PatientPosition != "FFS" || k.SeriesNumber != 7 ||
		k.Manufacturer != "ACME" || k.InstitutionName != "ISMRM Synthetic Imaging Lab" || k.FrameOfReferenceUID == "not a uid" ||
		k.SeriesDescription != "gre repetition 0" || ks[1].SeriesNumber != 8 || ks[1].SeriesDescription != "gre repetition 1" ||
		k.ISMRMRD != strings.ReplaceAll(x, "\t", " ") || k.Rows != 8 || k.ImageRows != 8 {
		t.Errorf("identity: %+v", k.Header)
	}
	given, _, err := Wrap(h, f, WrapOptions{Identity: wrapIdentity("Other^Name", "9.8.7")})
	if err != nil {
		t.Fatal(err)
	}
	if given[0].PatientName != "Other^Name" || given[0].StudyInstanceUID != "9.8.7" || given[1].StudyInstanceUID != "9.8.7" || given[0].PatientID != "P-1" {
		t.Errorf("explicit identity: %+v", given[0].Header)
	}
}

// FuzzParseHeader: no header may panic the parser; one it accepts passes
// its checks again and names an encoding of a sane size.
func FuzzParseHeader(f *testing.F) {
	raw := shepp8(f)
	mf, err := openBytes(raw)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(mf.XML))
	f.Add([]byte(header2D(16, 8, 8, "<parallelImaging><accelerationFactor><kspace_encoding_step_1>2</kspace_encoding_step_1><kspace_encoding_step_2>1</kspace_encoding_step_2></accelerationFactor><calibrationMode>embedded</calibrationMode></parallelImaging>").Raw))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if err := h.check(); err != nil {
			t.Fatalf("accepted a header its checks refuse: %v", err)
		}
		for _, e := range h.Encoding {
			if e.EncodedSpace.Matrix.X < 1 || e.EncodedSpace.Matrix.X > 65535 || e.EncodedSpace.Matrix.Z < 1 {
				t.Fatalf("accepted matrix %v", e.EncodedSpace.Matrix)
			}
		}
	})
}

// FuzzOpenFile: no file may panic the MRD reader or the assembly, or make
// them allocate beyond their bounds; the generator's file is the seed.
func FuzzOpenFile(f *testing.F) {
	f.Add(shepp8(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		mf, err := openBytes(b)
		if err != nil {
			return
		}
		vols, _, err := Assemble(mf.Header, mf, Options{})
		if err != nil {
			return
		}
		for _, v := range vols {
			if len(v.Data) != v.Slices*v.Coils*v.Rows*v.Cols || len(v.Mask) != v.Rows*v.Cols {
				t.Fatalf("volume of %d samples and %d mask entries for %d × %d × %d × %d", len(v.Data), len(v.Mask), v.Slices, v.Coils, v.Rows, v.Cols)
			}
		}
	})
}
