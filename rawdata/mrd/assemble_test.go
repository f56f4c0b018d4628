package mrd

import (
	"errors"
	"math"
	"math/cmplx"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/num/fft"
)

// header2D is an ISMRMRD header for a 2D Cartesian encoding of ex × ey
// (readout oversampled when reconX < ex).
func header2D(ex, ey, reconX int, extra string) *Header {
	xml := `<?xml version="1.0"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
 <experimentalConditions><H1resonanceFrequency_Hz>63500000</H1resonanceFrequency_Hz></experimentalConditions>
 <encoding>
  <encodedSpace><matrixSize><x>` + itoa(ex) + `</x><y>` + itoa(ey) + `</y><z>1</z></matrixSize>
   <fieldOfView_mm><x>` + itoa(2*ex) + `</x><y>` + itoa(2*ey) + `</y><z>5</z></fieldOfView_mm></encodedSpace>
  <reconSpace><matrixSize><x>` + itoa(reconX) + `</x><y>` + itoa(ey) + `</y><z>1</z></matrixSize>
   <fieldOfView_mm><x>` + itoa(2*reconX) + `</x><y>` + itoa(2*ey) + `</y><z>5</z></fieldOfView_mm></reconSpace>
  <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>` + itoa(ey-1) + `</maximum><center>` + itoa(ey/2) + `</center></kspace_encoding_step_1></encodingLimits>
  <trajectory>cartesian</trajectory>` + extra + `
 </encoding>
</ismrmrdHeader>`
	h, err := ParseHeader([]byte(xml))
	if err != nil {
		panic(err)
	}
	return h
}

var itoa = strconv.Itoa

func randomImages(rng *rand.Rand, n int) []complex64 {
	out := make([]complex64, n)
	for i := range out {
		out[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	return out
}

// kspace2D is the centred orthonormal FFT of coil images (coils, ex, ey).
func kspace2D(t *testing.T, img []complex64, ex, ey int) []complex64 {
	t.Helper()
	k := make([]complex64, len(img))
	if err := fft.FFT2c(k, img, ex, ey); err != nil {
		t.Fatal(err)
	}
	return k
}

// acquire makes the acquisition of line ky of k-space k (coils, ex, ey):
// the full readout, sample ex/2 at the centre.
func acquire(k []complex64, coils, ex, ey, ky int) Acquisition {
	a := Acquisition{Data: make([]complex64, coils*ex)}
	a.Head.Version = 1
	a.Head.NumberOfSamples, a.Head.ActiveChannels, a.Head.AvailableChannels = uint16(ex), uint16(coils), uint16(coils)
	a.Head.CenterSample = uint16(ex / 2)
	a.Head.SampleTimeUs = 5
	a.Head.Idx.KSpaceEncodeStep1 = uint16(ky)
	for c := 0; c < coils; c++ {
		for x := 0; x < ex; x++ {
			a.Data[c*ex+x] = k[(c*ex+x)*ey+ky]
		}
	}
	return a
}

func maxDiff(a, b []complex64) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, cmplx.Abs(complex128(a[i]-b[i])))
		m = math.Max(m, cmplx.Abs(complex128(b[i])))
	}
	return d / m
}

// crop keeps rows r0 … r0+keep of (coils, rows, cols) images.
func crop(img []complex64, coils, rows, cols, r0, keep int) []complex64 {
	out := make([]complex64, 0, coils*keep*cols)
	for c := 0; c < coils; c++ {
		out = append(out, img[(c*rows+r0)*cols:(c*rows+r0+keep)*cols]...)
	}
	return out
}

// TestAssemble2D: acquisitions made from known coil images come back as
// the k-space of the images with the readout oversampling cropped (a 2D
// FFT of the cropped images, independent of the line-by-line removal),
// slices and contrasts kept apart, averages averaged, a calibration line
// where an imaging line is not used twice, a reversed line mirrored,
// discarded samples dropped, and navigators left out.
func TestAssemble2D(t *testing.T) {
	const coils, ex, ey, keep = 3, 16, 10, 8
	rng := rand.New(rand.NewSource(1))
	var acqs Acquisitions
	want := map[[2]int][]complex64{} // (contrast, slice) → k-space
	for contrast := 0; contrast < 2; contrast++ {
		for slice := 0; slice < 2; slice++ {
			img := randomImages(rng, coils*ex*ey)
			k := kspace2D(t, img, ex, ey)
			want[[2]int{contrast, slice}] = kspace2D(t, crop(img, coils, ex, ey, ex/2-keep/2, keep), keep, ey)
			for ky := 0; ky < ey; ky++ {
				if ky%2 == 1 && (ky < 3 || ky > 6) {
					continue // R = 2 outside the 4 central lines
				}
				a := acquire(k, coils, ex, ey, ky)
				a.Head.Idx.Slice, a.Head.Idx.Contrast = uint16(slice), uint16(contrast)
				if ky == 3 || ky == 5 {
					a.Head.Set(IsParallelCalibration) // ACS lines off the pattern
				}
				switch ky {
				case 0: // acquired twice: k + d and k − d
					b := a
					b.Data = append([]complex64(nil), a.Data...)
					for i := range a.Data {
						d := complex(float32(rng.NormFloat64()), 0)
						a.Data[i] += d
						b.Data[i] -= d
					}
					b.Head.Idx.Average = 1
					acqs = append(acqs, b)
				case 2: // reversed
					for c := 0; c < coils; c++ {
						l := a.Data[c*ex : (c+1)*ex]
						for i, j := 0, ex-1; i < j; i, j = i+1, j-1 {
							l[i], l[j] = l[j], l[i]
						}
					}
					a.Head.Set(IsReverse)
					a.Head.CenterSample = uint16(ex - 1 - ex/2)
				case 4: // two samples more at each end, discarded
					long := make([]complex64, coils*(ex+4))
					for c := 0; c < coils; c++ {
						for x := range ex + 4 {
							long[c*(ex+4)+x] = 1e6
						}
						copy(long[c*(ex+4)+2:], a.Data[c*ex:(c+1)*ex])
					}
					a.Data = long
					a.Head.NumberOfSamples = ex + 4
					a.Head.DiscardPre, a.Head.DiscardPost, a.Head.CenterSample = 2, 2, ex/2+2
				case 6: // the same line again as calibration only: not used twice
					b := acquire(k, coils, ex, ey, ky)
					b.Head.Idx.Slice, b.Head.Idx.Contrast = uint16(slice), uint16(contrast)
					b.Head.Set(IsParallelCalibration)
					for i := range b.Data {
						b.Data[i] = 1e6
					}
					acqs = append(acqs, b)
					a.Head.Set(IsParallelCalibrationAndImaging)
				}
				acqs = append(acqs, a)
			}
			nav := acquire(k, coils, ex, ey, 1)
			nav.Head.Set(IsNavigationData)
			for i := range nav.Data {
				nav.Data[i] = 1e6
			}
			acqs = append(acqs, nav)
		}
	}
	vols, rep, err := Assemble(header2D(ex, ey, keep, ""), acqs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 2 || rep.Ignored["navigation data"] != 4 || rep.Averaged != 4 || rep.CalibrationSkip != 4 || rep.Calibration != 8 {
		t.Fatalf("%d volumes, report %+v", len(vols), rep)
	}
	mask := []uint8{1, 0, 1, 1, 1, 1, 1, 0, 1, 0}
	for _, v := range vols {
		if v.Slices != 2 || v.Coils != coils || v.Rows != keep || v.Cols != ey || v.ImageRows != keep || v.ImageCols != ey {
			t.Fatalf("volume %d × %d × %d × %d, image %d × %d", v.Slices, v.Coils, v.Rows, v.Cols, v.ImageRows, v.ImageCols)
		}
		for r := 0; r < keep; r++ {
			if string(v.Mask[r*ey:(r+1)*ey]) != string(mask) {
				t.Fatalf("mask row %d = %v, want %v", r, v.Mask[r*ey:(r+1)*ey], mask)
			}
		}
		for s := 0; s < 2; s++ {
			got := v.Data[s*coils*keep*ey : (s+1)*coils*keep*ey]
			w := append([]complex64(nil), want[[2]int{v.Contrast, s}]...)
			for i := range w {
				if mask[i%ey] == 0 {
					w[i] = 0
				}
			}
			if d := maxDiff(got, w); d > 1e-5 {
				t.Errorf("contrast %d slice %d: relative difference %.2g from the cropped images' k-space", v.Contrast, s, d)
			}
		}
	}
}

// TestAsymmetricEchoAndPartialFourier: an echo missing its first samples
// keeps the oversampled readout with those samples unsampled and the image
// cropped; lines never acquired on one side are a partial Fourier note.
func TestAsymmetricEchoAndPartialFourier(t *testing.T) {
	const coils, ex, ey, keep, missing = 2, 16, 12, 8, 4
	rng := rand.New(rand.NewSource(2))
	k := kspace2D(t, randomImages(rng, coils*ex*ey), ex, ey)
	var acqs Acquisitions
	for ky := 3; ky < ey; ky++ { // lines 0–2 never acquired
		a := acquire(k, coils, ex, ey, ky)
		short := make([]complex64, coils*(ex-missing))
		for c := 0; c < coils; c++ {
			copy(short[c*(ex-missing):], a.Data[c*ex+missing:(c+1)*ex])
		}
		a.Data, a.Head.NumberOfSamples, a.Head.CenterSample = short, ex-missing, ex/2-missing
		acqs = append(acqs, a)
	}
	vols, rep, err := Assemble(header2D(ex, ey, keep, ""), acqs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := vols[0]
	if v.Rows != ex || v.ImageRows != keep || v.Cols != ey {
		t.Fatalf("k-space %d × %d, image rows %d: want the readout kept at %d, the image cropped to %d", v.Rows, v.Cols, v.ImageRows, ex, keep)
	}
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "asymmetric echo") || !strings.Contains(notes, "partial Fourier") {
		t.Errorf("notes: %s", notes)
	}
	for x := 0; x < ex; x++ {
		for y := 0; y < ey; y++ {
			sampled := x >= missing && y >= 3
			if (v.Mask[x*ey+y] == 1) != sampled {
				t.Fatalf("mask at readout %d, line %d is %d", x, y, v.Mask[x*ey+y])
			}
			for c := 0; c < coils; c++ {
				got, w := v.Data[(c*ex+x)*ey+y], k[(c*ex+x)*ey+y]
				if !sampled {
					w = 0
				}
				if got != w {
					t.Fatalf("coil %d, readout %d, line %d: %v, want %v", c, x, y, got, w)
				}
			}
		}
	}
}

// TestAssemble3D: a 3D encoding comes back transformed along the readout:
// slice j is the (phase, partition) k-space of image plane x = j of the
// cropped readout (checked with a 2D FFT of that plane).
func TestAssemble3D(t *testing.T) {
	const coils, ex, ey, ez, keep = 2, 16, 6, 4, 8
	rng := rand.New(rand.NewSource(3))
	img := randomImages(rng, coils*ex*ey*ez) // (coils, x, y, z)
	// k-space: the 2D FFT of each x plane over (y, z), then the 1D FFT
	// along x.
	k := make([]complex64, len(img))
	for c := 0; c < coils; c++ {
		for x := 0; x < ex; x++ {
			p := (c*ex + x) * ey * ez
			if err := fft.FFT2c(k[p:p+ey*ez], img[p:p+ey*ez], ey, ez); err != nil {
				t.Fatal(err)
			}
		}
	}
	var acqs Acquisitions
	line := make([]complex64, ex)
	for ky := 0; ky < ey; ky++ {
		for kz := 0; kz < ez; kz++ {
			a := Acquisition{Data: make([]complex64, coils*ex)}
			a.Head.NumberOfSamples, a.Head.ActiveChannels, a.Head.CenterSample = ex, coils, ex/2
			a.Head.Idx.KSpaceEncodeStep1, a.Head.Idx.KSpaceEncodeStep2 = uint16(ky), uint16(kz)
			for c := 0; c < coils; c++ {
				for x := 0; x < ex; x++ {
					line[x] = k[((c*ex+x)*ey+ky)*ez+kz]
				}
				if err := fft.FFT2c(a.Data[c*ex:(c+1)*ex], line, 1, ex); err != nil {
					t.Fatal(err)
				}
			}
			acqs = append(acqs, a)
		}
	}
	h := header2D(ex, ey, keep, "")
	h.Encoding[0].EncodedSpace.Matrix.Z, h.Encoding[0].ReconSpace.Matrix.Z = ez, ez
	h.Encoding[0].Limits.Step2 = &Limit{0, ez - 1, ez / 2}
	vols, rep, err := Assemble(h, acqs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := vols[0]
	if !rep.ThreeD || v.Slices != keep || v.Rows != ey || v.Cols != ez || v.Coils != coils {
		t.Fatalf("3D volume %d slices × %d coils × %d × %d", v.Slices, v.Coils, v.Rows, v.Cols)
	}
	for j := 0; j < keep; j++ {
		x := ex/2 - keep/2 + j
		for c := 0; c < coils; c++ {
			got := v.Data[(j*coils+c)*ey*ez : (j*coils+c+1)*ey*ez]
			p := (c*ex + x) * ey * ez
			if d := maxDiff(got, k[p:p+ey*ez]); d > 1e-5 {
				t.Fatalf("slice %d coil %d: relative difference %.2g", j, c, d)
			}
		}
	}
	for i, m := range v.Mask {
		if m != 1 {
			t.Fatalf("mask entry %d unsampled in a fully sampled 3D acquisition", i)
		}
	}
	// Asymmetric echoes cannot be transformed along the readout.
	acqs[0].Head.NumberOfSamples, acqs[0].Head.CenterSample = ex-4, ex/2-4
	acqs[0].Data = make([]complex64, coils*(ex-4))
	if _, _, err := Assemble(h, acqs, Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "3D") {
		t.Errorf("asymmetric 3D: %v", err)
	}
}

// TestPrewhitening: coils with correlated noise (a random mixing of white
// noise) come out white: after prewhitening with the noise scan, fresh
// noise has the covariance s²·I, s² = 2 · (Δt_acq / Δt_noise) · B (here
// 2 · 2 · 0.793), to within the estimation error of 4000 samples; without
// prewhitening it does not.
func TestPrewhitening(t *testing.T) {
	const coils, ex, ey = 4, 40, 100
	rng := rand.New(rand.NewSource(4))
	// Every coil picks up a common noise source besides its own.
	mix := make([]complex128, coils*coils)
	for i := range mix {
		mix[i] = complex(0.8+0.2*rng.NormFloat64(), 0.2*rng.NormFloat64())
		if i%(coils+1) == 0 {
			mix[i] += 1
		}
	}
	noise := func(n int) []complex64 {
		out := make([]complex64, coils*n)
		z := make([]complex128, coils)
		for s := 0; s < n; s++ {
			for c := range z {
				z[c] = complex(rng.NormFloat64(), rng.NormFloat64())
			}
			for i := 0; i < coils; i++ {
				var v complex128
				for j := 0; j < coils; j++ {
					v += mix[i*coils+j] * z[j]
				}
				out[i*n+s] = complex64(v)
			}
		}
		return out
	}
	var acqs Acquisitions
	for i := 0; i < 100; i++ {
		a := Acquisition{Data: noise(ex)}
		a.Head.NumberOfSamples, a.Head.ActiveChannels, a.Head.SampleTimeUs = ex, coils, 2.5
		a.Head.Set(IsNoiseMeasurement)
		acqs = append(acqs, a)
	}
	for ky := 0; ky < ey; ky++ {
		a := Acquisition{Data: noise(ex)}
		a.Head.NumberOfSamples, a.Head.ActiveChannels, a.Head.CenterSample, a.Head.SampleTimeUs = ex, coils, ex/2, 5
		a.Head.Idx.KSpaceEncodeStep1 = uint16(ky)
		acqs = append(acqs, a)
	}
	cov := func(v *Volume) []complex128 {
		n := v.Rows * v.Cols
		out := make([]complex128, coils*coils)
		for i := 0; i < coils; i++ {
			for j := 0; j < coils; j++ {
				for p := 0; p < n; p++ {
					out[i*coils+j] += complex128(v.Data[i*n+p]) * cmplx.Conj(complex128(v.Data[j*n+p]))
				}
				out[i*coils+j] /= complex(float64(n), 0)
			}
		}
		return out
	}
	// The header's recon space equals the encoded one: no oversampling.
	h := header2D(ex, ey, ex, "")
	want := 2 * 2 * defaultNoiseBandwidth
	vols, rep, err := Assemble(h, acqs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Prewhitened || rep.NoiseSamples != 100*ex {
		t.Fatalf("report %+v", rep)
	}
	c := cov(vols[0])
	worst := 0.0
	for i := 0; i < coils; i++ {
		for j := 0; j < coils; j++ {
			w := 0.0
			if i == j {
				w = want
			}
			worst = math.Max(worst, cmplx.Abs(c[i*coils+j]-complex(w, 0))/want)
		}
	}
	t.Logf("prewhitened noise covariance: largest deviation from %.3f·I is %.3f of it", want, worst)
	if worst > 0.1 {
		t.Errorf("prewhitened noise covariance %v, want %.3f·I", c, want)
	}
	vols, _, err = Assemble(h, acqs, Options{NoPrewhiten: true})
	if err != nil {
		t.Fatal(err)
	}
	c = cov(vols[0])
	off := cmplx.Abs(c[1]) / math.Sqrt(real(c[0])*real(c[coils+1]))
	if off < 0.5 {
		t.Errorf("without prewhitening, coils 0 and 1 correlate by only %.2f", off)
	}
	// Too few noise samples for the covariance of the coils.
	few := append(Acquisitions{}, acqs[99:]...)
	few[0].Head.NumberOfSamples, few[0].Data = 3, few[0].Data[:coils*3]
	if _, _, err := Assemble(h, few, Options{}); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("3 noise samples for 4 coils: %v", err)
	}
}

// TestAssembleRefuses: what cannot be Cartesian k-space is refused by name.
func TestAssembleRefuses(t *testing.T) {
	const coils, ex, ey = 2, 8, 8
	k := make([]complex64, coils*ex*ey)
	var acqs Acquisitions
	for ky := 0; ky < ey; ky++ {
		acqs = append(acqs, acquire(k, coils, ex, ey, ky))
	}
	for _, c := range []struct {
		name, traj, extra, want string
	}{
		{"radial", "radial", "", "non-Cartesian trajectory radial"},
		{"spiral", "spiral", "<trajectoryDescription><identifier>HargreavesVDS2000</identifier></trajectoryDescription>", "non-Cartesian trajectory spiral (HargreavesVDS2000)"},
		{"golden angle", "goldenangle", "", "non-Cartesian trajectory goldenangle"},
		{"EPI", "epi", "", "trajectory epi"},
	} {
		h := header2D(ex, ey, ex, c.extra)
		h.Encoding[0].Trajectory = c.traj
		if _, _, err := Assemble(h, acqs, Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	sep := header2D(ex, ey, ex, "<parallelImaging><accelerationFactor><kspace_encoding_step_1>2</kspace_encoding_step_1><kspace_encoding_step_2>1</kspace_encoding_step_2></accelerationFactor><calibrationMode>separate</calibrationMode></parallelImaging>")
	cal := append(Acquisitions{}, acqs...)
	cal[3].Head.Set(IsParallelCalibration)
	if _, _, err := Assemble(sep, cal, Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "calibration mode separate") {
		t.Errorf("separate calibration: %v", err)
	}
	// Slices sampled differently.
	two := append(Acquisitions{}, acqs...)
	for _, a := range acqs[:ey-1] {
		a.Head.Idx.Slice = 1
		two = append(two, a)
	}
	if _, _, err := Assemble(header2D(ex, ey, ex, ""), two, Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "slices 0 and 1") {
		t.Errorf("slices with different masks: %v", err)
	}
	// A line outside the matrix, a readout that does not fit, coils that
	// change, a data array shorter than its header.
	bad := func(name string, f func(a *Acquisition), want string) {
		b := append(Acquisitions{}, acqs...)
		b[2].Data = append([]complex64(nil), b[2].Data...)
		f(&b[2])
		if _, _, err := Assemble(header2D(ex, ey, ex, ""), b, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	bad("line 40", func(a *Acquisition) { a.Head.Idx.KSpaceEncodeStep1 = 40 }, "outside the encoded matrix")
	bad("centre sample at the end", func(a *Acquisition) { a.Head.CenterSample = ex - 1 }, "do not fit the encoded readout")
	bad("3 coils", func(a *Acquisition) { a.Head.ActiveChannels = 3 }, "active channels")
	bad("65535 samples", func(a *Acquisition) { a.Head.NumberOfSamples = 65535; a.Head.CenterSample = 4 }, "do not fit")
	bad("short data", func(a *Acquisition) { a.Data = a.Data[:5] }, "samples")
}
