package mrd

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tweedie-recon/tweedie/num/fft"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// ErrUnsupported wraps acquisitions tweedie cannot turn into Cartesian
// k-space: the error names what (the trajectory, the calibration mode, …).
var ErrUnsupported = errors.New("unsupported MRD acquisition")

// Options steer Assemble.
type Options struct {
	// Encoding is the encoding space to assemble (the acquisitions'
	// encoding_space_ref); others are counted and left out.
	Encoding int
	// NoPrewhiten keeps the coils as acquired even when there is a noise
	// scan.
	NoPrewhiten bool
}

// Volume is one assembled acquisition: Cartesian k-space of every slice
// of one contrast, cardiac phase, repetition and set, in tweedie's layout
// (docs/raw-data.md): (slices, coils, rows, cols), rows along the readout
// and cols along phase encoding, centred at (rows/2, cols/2) for the
// centred orthonormal FFT. A 3D acquisition comes transformed along the
// readout: its slices are the readout positions, its rows the phase
// encodes (kspace_encode_step_1) and its cols the partitions (step 2).
type Volume struct {
	Contrast, Phase, Repetition, Set int
	Slices, Coils, Rows, Cols        int
	Data                             []complex64
	Mask                             []uint8 // rows × cols, shared by the slices and coils
	ImageRows, ImageCols             int     // the reconstructed image: a centred crop of rows × cols
	Geometry                         rawdata.Geometry
}

// Label names the volume's counters that vary across the volumes of a
// file, e.g. "contrast 1 repetition 3".
func (v *Volume) label(vary [4]bool) string {
	var parts []string
	for i, n := range []string{"contrast", "phase", "repetition", "set"} {
		if vary[i] {
			parts = append(parts, fmt.Sprintf("%s %d", n, []int{v.Contrast, v.Phase, v.Repetition, v.Set}[i]))
		}
	}
	return strings.Join(parts, " ")
}

// Report says what Assemble did with the acquisitions.
type Report struct {
	Acquisitions     int            // in the source
	Imaging          int            // lines used as imaging data
	Calibration      int            // calibration-only (ACS) lines used as data
	CalibrationSkip  int            // calibration-only lines where an imaging line was already
	Noise            int            // noise acquisitions
	NoiseSamples     int            // noise sample vectors behind the prewhitening
	Prewhitened      bool           // the coils were decorrelated
	Ignored          map[string]int // acquisitions left out, by their flag
	OtherEncoding    int            // acquisitions of other encoding spaces
	Averaged         int            // k-space lines acquired more than once and averaged
	ReadoutEncoded   int            // readout samples of the encoded space
	ReadoutKept      int            // after oversampling removal
	ThreeD           bool
	GeometryFromData bool // orientation and positions from the acquisitions
	Notes            []string
}

func (r *Report) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// flags that mark acquisitions which are not k-space lines of the image.
var ignoredFlags = []Flag{IsNavigationData, IsPhasecorrData, IsHPFeedbackData, IsDummyscanData, IsRTFeedbackData,
	IsSurfaceCoilCorrectionScanData, IsPhaseStabilizationReference, IsPhaseStabilization}

// line is one acquisition placed in k-space.
type line struct {
	acq            int
	vol, slice     int // volume index; slice counter until sliceIndex maps it
	ky, kz         int
	x0, x1         int  // readout positions it covers in the encoded readout, [x0, x1)
	s0             int  // first sample used (after discard_pre)
	center         int  // the sample at the k-space centre
	reverse        bool // samples in reverse order
	cal            bool // calibration only
	dwell          float64
	samples, coils int
}

type volKey struct{ contrast, phase, repetition, set int }

// Limits on what one file may make Assemble allocate.
const (
	maxVolumes = 4096
	// maxTotalBytes bounds the k-space of all volumes together.
	maxTotalBytes = 4 * rawdata.MaxArrayBytes
)

// Assemble turns the acquisitions of src into Cartesian k-space volumes as
// header h's encoding describes them:
//
//   - noise acquisitions (ACQ_IS_NOISE_MEASUREMENT) estimate the coil
//     noise covariance, and every line is prewhitened with it (noise.go);
//   - navigator, phase-correction, feedback, dummy-scan and phase
//     stabilisation acquisitions are left out and counted;
//   - imaging lines and ACS lines (ACQ_IS_PARALLEL_CALIBRATION, and
//     ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING which are both) are placed at
//     kspace_encode_step_1 (and _2) relative to the encoding limits'
//     centre, their samples at center_sample relative to the readout's
//     centre, discard_pre and discard_post dropped; a calibration-only line
//     where an imaging line already is, is not used twice; lines acquired
//     more than once (averages) are averaged;
//   - readout oversampling (an encoded field of view wider than the recon
//     space's) is removed along the readout as Gadgetron's
//     RemoveROOversamplingGadget does: inverse FFT of the readout, the
//     centre kept, forward FFT; an asymmetric echo keeps the oversampled
//     readout with its missing samples unsampled in the mask, and the
//     image is cropped instead (ImageRows); phase oversampling crops too;
//   - slices go together into one volume per contrast, phase, repetition
//     and set (one mask for all of them: slices sampled differently are
//     an error); partial Fourier lines never acquired are unsampled;
//   - a 3D encoding (encoded matrix z > 1) is transformed along the
//     readout first, so that each readout position is a 2D (phase,
//     partition) k-space slice.
//
// Non-Cartesian trajectories, EPI, and a separate or external calibration
// scan are refused by name (ErrUnsupported).
func Assemble(h *Header, src Source, opt Options) ([]*Volume, *Report, error) {
	if opt.Encoding < 0 || opt.Encoding >= len(h.Encoding) {
		return nil, nil, fmt.Errorf("%w: encoding %d of a header with %d", ErrUnsupported, opt.Encoding, len(h.Encoding))
	}
	e := &h.Encoding[opt.Encoding]
	if err := checkTrajectory(e); err != nil {
		return nil, nil, err
	}
	a := &assembler{h: h, e: e, src: src, rep: &Report{Acquisitions: src.Len(), Ignored: map[string]int{}}, opt: opt}
	if err := a.scan(); err != nil {
		return nil, nil, err
	}
	if err := a.plan(); err != nil {
		return nil, nil, err
	}
	if err := a.noise(); err != nil {
		return nil, nil, err
	}
	if err := a.fill(); err != nil {
		return nil, nil, err
	}
	a.geometry()
	return a.vols, a.rep, nil
}

func checkTrajectory(e *Encoding) error {
	switch e.Trajectory {
	case "cartesian":
		return nil
	case "epi":
		return fmt.Errorf("%w: trajectory epi (echo-planar): its lines need ramp-sampling regridding and ghost correction from the phase-correction scans, which tweedie does not do", ErrUnsupported)
	}
	id := ""
	if e.TrajectoryID != "" {
		id = fmt.Sprintf(" (%s)", e.TrajectoryID)
	}
	return fmt.Errorf("%w: non-Cartesian trajectory %s%s: tweedie reconstructs Cartesian k-space only (no gridding)", ErrUnsupported, e.Trajectory, id)
}

type assembler struct {
	h   *Header
	e   *Encoding
	src Source
	opt Options
	rep *Report

	ex, ey, ez   int // encoded matrix
	keepX        int // readout samples after oversampling removal
	imgY, imgZ   int // phase (and partition) image size after phase oversampling crop
	cy, cz       int // k-space centre lines of steps 1 and 2
	coils        int
	threeD       bool
	removeInK    bool // remove readout oversampling line by line in k-space
	lines        []line
	noiseAcqs    []int
	keys         []volKey
	keyIndex     map[volKey]int
	slices       []map[int]int // per volume: slice counter → index
	sliceOrder   [][]int       // per volume: slice counters in order
	firstOfSlice []map[int]int // per volume: slice counter → first acquisition
	vols         []*Volume
	white        *prewhitener
}

// scan reads every header once: classifies, places and checks the lines.
func (a *assembler) scan() error {
	e := a.e
	m := e.EncodedSpace.Matrix
	a.ex, a.ey, a.ez = m.X, m.Y, m.Z
	a.threeD = a.ez > 1
	a.rep.ThreeD = a.threeD
	a.cy, a.cz = centre(e.Limits.Step1, a.ey, "kspace_encoding_step_1", a.rep), centre(e.Limits.Step2, a.ez, "kspace_encoding_step_2", a.rep)
	calMode := ""
	if e.ParallelImaging != nil {
		calMode = e.ParallelImaging.CalibrationMode
	}
	a.keyIndex = map[volKey]int{}
	for i := 0; i < a.src.Len(); i++ {
		h, err := a.src.Head(i)
		if err != nil {
			return err
		}
		if h.Has(IsNoiseMeasurement) {
			a.noiseAcqs = append(a.noiseAcqs, i)
			a.rep.Noise++
			continue
		}
		skip := false
		for _, f := range ignoredFlags {
			if h.Has(f) {
				a.rep.Ignored[f.String()]++
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		if int(h.EncodingSpaceRef) != a.opt.Encoding {
			a.rep.OtherEncoding++
			continue
		}
		cal := h.Has(IsParallelCalibration) && !h.Has(IsParallelCalibrationAndImaging)
		if cal && (calMode == "separate" || calMode == "external") {
			return fmt.Errorf("%w: calibration mode %s: acquisition %d is a reference line of a separate calibration scan (another contrast or resolution), which tweedie's raw-data object has no place for", ErrUnsupported, calMode, i)
		}
		if err := a.channels(i, &h); err != nil {
			return err
		}
		l := line{acq: i, cal: cal, reverse: h.Has(IsReverse), dwell: float64(h.SampleTimeUs),
			samples: int(h.NumberOfSamples), coils: int(h.ActiveChannels), slice: int(h.Idx.Slice)}
		l.ky = int(h.Idx.KSpaceEncodeStep1) - a.cy + a.ey/2
		l.kz = 0
		if a.threeD {
			l.kz = int(h.Idx.KSpaceEncodeStep2) - a.cz + a.ez/2
		}
		if l.ky < 0 || l.ky >= a.ey || l.kz < 0 || l.kz >= a.ez {
			return fmt.Errorf("%w: acquisition %d: encode step %d/%d lies outside the encoded matrix %d × %d (centre %d/%d)",
				ErrFile, i, h.Idx.KSpaceEncodeStep1, h.Idx.KSpaceEncodeStep2, a.ey, a.ez, a.cy, a.cz)
		}
		if err := a.readout(i, &h, &l); err != nil {
			return err
		}
		k := volKey{int(h.Idx.Contrast), int(h.Idx.Phase), int(h.Idx.Repetition), int(h.Idx.Set)}
		v, ok := a.keyIndex[k]
		if !ok {
			if len(a.keys) >= maxVolumes {
				return fmt.Errorf("%w: more than %d contrasts × phases × repetitions × sets", ErrFile, maxVolumes)
			}
			v = len(a.keys)
			a.keyIndex[k] = v
			a.keys = append(a.keys, k)
			a.slices = append(a.slices, map[int]int{})
			a.firstOfSlice = append(a.firstOfSlice, map[int]int{})
		}
		l.vol = v
		if _, ok := a.firstOfSlice[v][l.slice]; !ok && !cal {
			a.firstOfSlice[v][l.slice] = i
		}
		a.slices[v][l.slice] = 0
		a.lines = append(a.lines, l)
	}
	if len(a.lines) == 0 {
		return fmt.Errorf("%w: no imaging acquisitions in encoding %d (%d acquisitions: %d noise, %d of other encodings, %d ignored)",
			ErrFile, a.opt.Encoding, a.src.Len(), a.rep.Noise, a.rep.OtherEncoding, a.ignored())
	}
	return nil
}

func (a *assembler) ignored() int {
	n := 0
	for _, v := range a.rep.Ignored {
		n += v
	}
	return n
}

// centre is the k-space centre line of an encoding step: the limit's
// centre, or the middle of the matrix when the limit is absent or gives 0
// with lines above it (writers that leave it unset).
func centre(l *Limit, n int, name string, rep *Report) int {
	if l == nil {
		return n / 2
	}
	if l.Center == 0 && l.Maximum > 0 {
		rep.note("%s: centre 0 with lines up to %d is taken as unset; the centre is line %d", name, l.Maximum, n/2)
		return n / 2
	}
	return l.Center
}

// channels checks an acquisition's channel count against the others'.
func (a *assembler) channels(i int, h *AcquisitionHeader) error {
	c := int(h.ActiveChannels)
	if c < 1 || c > MaxChannels {
		return fmt.Errorf("%w: acquisition %d has %d active channels (1 … %d)", ErrFile, i, c, MaxChannels)
	}
	if a.coils == 0 {
		a.coils = c
	} else if c != a.coils {
		return fmt.Errorf("%w: acquisition %d has %d active channels, earlier ones %d (coil reduction within a scan is not supported)", ErrFile, i, c, a.coils)
	}
	return nil
}

// readout places an acquisition's samples on the encoded readout: sample
// center_sample at ex/2 (a center_sample of 0 is read as unset: the
// middle of the samples), samples before discard_pre and after
// discard_post dropped, a reversed line mirrored.
func (a *assembler) readout(i int, h *AcquisitionHeader, l *line) error {
	ns := int(h.NumberOfSamples)
	pre, post := int(h.DiscardPre), int(h.DiscardPost)
	if ns < 1 || pre+post >= ns {
		return fmt.Errorf("%w: acquisition %d: %d samples with %d and %d discarded", ErrFile, i, ns, pre, post)
	}
	cs := int(h.CenterSample)
	if cs == 0 {
		cs = ns / 2
	}
	if cs >= ns {
		return fmt.Errorf("%w: acquisition %d: center_sample %d of %d samples", ErrFile, i, cs, ns)
	}
	l.center, l.s0 = cs, pre
	// Sample s (pre ≤ s < ns−post) lands at cs'−… : forward lines at
	// s − cs + ex/2, reversed ones at cs − s + ex/2.
	first, last := pre-cs+a.ex/2, ns-1-post-cs+a.ex/2
	if l.reverse {
		first, last = cs-(ns-1-post)+a.ex/2, cs-pre+a.ex/2
	}
	if first < 0 || last >= a.ex {
		return fmt.Errorf("%w: acquisition %d: %d samples centred at sample %d do not fit the encoded readout of %d", ErrFile, i, ns, cs, a.ex)
	}
	l.x0, l.x1 = first, last+1
	return nil
}

// plan sizes the volumes: oversampling, slices, masks; and bounds them.
func (a *assembler) plan() error {
	e := a.e
	enc, rec := e.EncodedSpace.FOV, e.ReconSpace.FOV
	a.keepX = a.ex
	if rec.X > 0 && enc.X > rec.X*(1+1e-6) {
		a.keepX = max(2, int(math.Round(float64(a.ex)*rec.X/enc.X)))
	}
	a.imgY, a.imgZ = a.ey, a.ez
	if rec.Y > 0 && enc.Y > rec.Y*(1+1e-6) {
		a.imgY = max(2, int(math.Round(float64(a.ey)*rec.Y/enc.Y)))
	}
	if a.threeD && rec.Z > 0 && enc.Z > rec.Z*(1+1e-6) {
		a.imgZ = max(2, int(math.Round(float64(a.ez)*rec.Z/enc.Z)))
	}
	a.rep.ReadoutEncoded, a.rep.ReadoutKept = a.ex, a.keepX
	// Imaging coverage, for calibration-only lines already acquired as
	// imaging lines.
	type pos struct{ vol, slice, ky, kz int }
	imaging := map[pos]bool{}
	asym := false
	for _, l := range a.lines {
		if !l.cal {
			imaging[pos{l.vol, l.slice, l.ky, l.kz}] = true
		}
	}
	kept := a.lines[:0]
	for _, l := range a.lines {
		if l.cal && imaging[pos{l.vol, l.slice, l.ky, l.kz}] {
			a.rep.CalibrationSkip++
			continue
		}
		if l.cal {
			a.rep.Calibration++
		} else {
			a.rep.Imaging++
		}
		if l.x0 != 0 || l.x1 != a.ex {
			asym = true
		}
		kept = append(kept, l)
	}
	a.lines = kept
	if asym {
		if a.threeD {
			return fmt.Errorf("%w: asymmetric echo (or discarded samples) in a 3D acquisition: the readout must be Fourier transformed first, which needs the whole echo", ErrUnsupported)
		}
		a.rep.note("asymmetric echo: readout samples never acquired are unsampled in the mask; the readout oversampling is cropped from the image instead of removed from k-space")
	}
	a.removeInK = !a.threeD && !asym && a.keepX < a.ex
	if a.threeD && len(a.slices) > 0 {
		for _, s := range a.slices {
			if len(s) > 1 {
				return fmt.Errorf("%w: a 3D acquisition of %d slabs (multi-slab 3D)", ErrUnsupported, len(s))
			}
		}
	}
	// Slices in counter order.
	var total uint64
	for v := range a.keys {
		var order []int
		for s := range a.slices[v] {
			order = append(order, s)
		}
		sort.Ints(order)
		for i, s := range order {
			a.slices[v][s] = i
		}
		a.sliceOrder = append(a.sliceOrder, order)
		vol := &Volume{Contrast: a.keys[v].contrast, Phase: a.keys[v].phase, Repetition: a.keys[v].repetition, Set: a.keys[v].set, Coils: a.coils}
		if a.threeD {
			vol.Slices, vol.Rows, vol.Cols = a.keepX, a.ey, a.ez
			vol.ImageRows, vol.ImageCols = a.imgY, a.imgZ
		} else {
			vol.Slices, vol.Rows, vol.Cols = len(order), a.ex, a.ey
			if a.removeInK {
				vol.Rows = a.keepX
			}
			vol.ImageRows, vol.ImageCols = a.keepX, a.imgY
		}
		n := uint64(vol.Slices) * uint64(vol.Coils) * uint64(vol.Rows) * uint64(vol.Cols) * 8
		if n > rawdata.MaxArrayBytes {
			return fmt.Errorf("%w: a volume of %d slices × %d coils × %d × %d is %d bytes, more than the %d of one raw-data object", ErrFile, vol.Slices, vol.Coils, vol.Rows, vol.Cols, n, rawdata.MaxArrayBytes)
		}
		if total += n; total > maxTotalBytes {
			return fmt.Errorf("%w: the volumes of the file need more than %d bytes", ErrFile, uint64(maxTotalBytes))
		}
		a.vols = append(a.vols, vol)
	}
	// Masks: one per volume, the same for every slice.
	for v, vol := range a.vols {
		per := map[int][]uint8{}
		for _, l := range a.lines {
			if l.vol != v {
				continue
			}
			m := per[l.slice]
			if m == nil {
				m = make([]uint8, vol.Rows*vol.Cols)
				per[l.slice] = m
			}
			a.mark(m, vol, l)
		}
		order := a.sliceOrder[v]
		vol.Mask = per[order[0]]
		for _, s := range order[1:] {
			if string(per[s]) != string(vol.Mask) {
				return fmt.Errorf("%w: slices %d and %d of %s sample different k-space positions; tweedie's raw-data object has one sampling mask per acquisition", ErrUnsupported, order[0], s, nameOr(vol.label([4]bool{true, true, true, true}), "the volume"))
			}
		}
	}
	a.partialFourier()
	return nil
}

func nameOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// mark sets the mask positions line l samples.
func (a *assembler) mark(m []uint8, vol *Volume, l line) {
	switch {
	case a.threeD:
		m[l.ky*vol.Cols+l.kz] = 1
	case a.removeInK:
		for r := 0; r < vol.Rows; r++ {
			m[r*vol.Cols+l.ky] = 1
		}
	default:
		for x := l.x0; x < l.x1; x++ {
			m[x*vol.Cols+l.ky] = 1
		}
	}
}

// partialFourier notes phase encoding sampled on one side of the centre
// only: the missing lines are left unsampled for the reconstructor.
func (a *assembler) partialFourier() {
	acc := 1
	if p := a.e.ParallelImaging; p != nil && p.Acceleration.Step1 > 1 {
		acc = p.Acceleration.Step1
	}
	lo, hi := a.ey, -1
	for _, l := range a.lines {
		lo, hi = min(lo, l.ky), max(hi, l.ky)
	}
	below, above := a.ey/2-lo, hi-a.ey/2
	if d := below - above; d > acc || -d > acc {
		a.rep.note("partial Fourier along phase encoding: lines %d … %d of %d sampled (centre %d); the lines never acquired are unsampled, left to the reconstructor", lo, hi, a.ey, a.ey/2)
	}
}

// noise estimates the prewhitener from the noise acquisitions.
func (a *assembler) noise() error {
	if len(a.noiseAcqs) == 0 {
		return nil
	}
	if a.opt.NoPrewhiten {
		a.rep.note("%d noise acquisitions not used: prewhitening is off", len(a.noiseAcqs))
		return nil
	}
	st := newNoiseStats(a.coils)
	var buf []complex64
	for k, i := range a.noiseAcqs {
		h, err := a.src.Head(i)
		if err != nil {
			return err
		}
		if int(h.ActiveChannels) != a.coils {
			return fmt.Errorf("%w: noise acquisition %d has %d channels, the imaging data %d", ErrFile, i, h.ActiveChannels, a.coils)
		}
		if buf, err = a.src.Data(i, buf); err != nil {
			return err
		}
		if k == 0 {
			st.dwell = float64(h.SampleTimeUs)
		}
		st.add(buf, int(h.NumberOfSamples))
	}
	w, err := st.whitener()
	if err != nil {
		return fmt.Errorf("noise prewhitening: %w (prewhitening can be turned off)", err)
	}
	bw := defaultNoiseBandwidth
	if s := a.h.System; s != nil && s.RelativeReceiverNoiseBandwidth != nil {
		bw = *s.RelativeReceiverNoiseBandwidth
	}
	a.white = &prewhitener{coils: a.coils, w: w, bw: bw, dwell: st.dwell}
	a.rep.Prewhitened, a.rep.NoiseSamples = true, st.n
	return nil
}

// fill reads every line's samples into its volume.
func (a *assembler) fill() error {
	for _, v := range a.vols {
		v.Data = make([]complex64, v.Slices*v.Coils*v.Rows*v.Cols)
	}
	type pos struct{ vol, slice, ky, kz int }
	count := map[pos]int{}
	var buf, full, crop []complex64
	for _, l := range a.lines {
		var err error
		if buf, err = a.src.Data(l.acq, buf); err != nil {
			return err
		}
		if a.white != nil {
			a.white.apply(buf, l.samples, l.dwell)
		}
		// The line on the encoded readout, channel by channel.
		if cap(full) < a.coils*a.ex {
			full = make([]complex64, a.coils*a.ex)
		}
		full = full[:a.coils*a.ex]
		clear(full)
		for c := 0; c < a.coils; c++ {
			in, out := buf[c*l.samples:(c+1)*l.samples], full[c*a.ex:(c+1)*a.ex]
			for x := l.x0; x < l.x1; x++ {
				s := x - a.ex/2 + l.center
				if l.reverse {
					s = l.center - (x - a.ex/2)
				}
				out[x] = in[s]
			}
		}
		vol := a.vols[l.vol]
		s := a.slices[l.vol][l.slice]
		count[pos{l.vol, s, l.ky, l.kz}]++
		switch {
		case a.threeD:
			// Image space along the readout: slice x of the volume.
			if err := fft.IFFT2c(full, full, 1, a.ex); err != nil {
				return err
			}
			x0 := a.ex/2 - a.keepX/2
			for c := 0; c < a.coils; c++ {
				for x := 0; x < a.keepX; x++ {
					vol.Data[((x*a.coils+c)*vol.Rows+l.ky)*vol.Cols+l.kz] += full[c*a.ex+x0+x]
				}
			}
		case a.removeInK:
			if cap(crop) < a.coils*a.keepX {
				crop = make([]complex64, a.coils*a.keepX)
			}
			crop = crop[:a.coils*a.keepX]
			if err := removeOversampling(crop, full, a.coils, a.ex, a.keepX); err != nil {
				return err
			}
			for c := 0; c < a.coils; c++ {
				base := (s*a.coils + c) * vol.Rows * vol.Cols
				for r := 0; r < a.keepX; r++ {
					vol.Data[base+r*vol.Cols+l.ky] += crop[c*a.keepX+r]
				}
			}
		default:
			for c := 0; c < a.coils; c++ {
				base := (s*a.coils + c) * vol.Rows * vol.Cols
				for x := l.x0; x < l.x1; x++ {
					vol.Data[base+x*vol.Cols+l.ky] += full[c*a.ex+x]
				}
			}
		}
	}
	// Averages: lines acquired more than once are averaged.
	for p, n := range count {
		if n < 2 {
			continue
		}
		a.rep.Averaged++
		vol := a.vols[p.vol]
		f := complex(1/float32(n), 0)
		if a.threeD {
			for x := 0; x < vol.Slices; x++ {
				for c := 0; c < vol.Coils; c++ {
					vol.Data[((x*vol.Coils+c)*vol.Rows+p.ky)*vol.Cols+p.kz] *= f
				}
			}
			continue
		}
		for c := 0; c < vol.Coils; c++ {
			base := (p.slice*vol.Coils + c) * vol.Rows * vol.Cols
			for r := 0; r < vol.Rows; r++ {
				vol.Data[base+r*vol.Cols+p.ky] *= f
			}
		}
	}
	return nil
}

// removeOversampling keeps the centre keep of n readout samples for each
// of coils lines: inverse centred FFT to the image, the central keep
// samples (index n/2 stays the centre, at keep/2), forward centred FFT.
// Both transforms are orthonormal, so the image keeps its values (what a
// crop of the oversampled image would give) and white noise its variance
// per sample.
func removeOversampling(dst, src []complex64, coils, n, keep int) error {
	img := make([]complex64, len(src))
	if err := fft.IFFT2c(img, src, 1, n); err != nil {
		return err
	}
	x0 := n/2 - keep/2
	for c := 0; c < coils; c++ {
		copy(dst[c*keep:(c+1)*keep], img[c*n+x0:c*n+x0+keep])
	}
	return fft.FFT2c(dst, dst, 1, keep)
}

// String summarises the report for a person: one line of what was used,
// then the notes.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d acquisitions: %d imaging lines, %d calibration lines", r.Acquisitions, r.Imaging, r.Calibration)
	if r.CalibrationSkip > 0 {
		fmt.Fprintf(&b, " (%d more already acquired as imaging lines)", r.CalibrationSkip)
	}
	switch {
	case r.Prewhitened:
		fmt.Fprintf(&b, ", %s (%d samples) prewhitening the coils", plural(r.Noise, "noise acquisition"), r.NoiseSamples)
	case r.Noise > 0:
		fmt.Fprintf(&b, ", %s not used", plural(r.Noise, "noise acquisition"))
	default:
		b.WriteString(", no noise scan (coils not prewhitened)")
	}
	if r.Averaged > 0 {
		fmt.Fprintf(&b, ", %d lines averaged", r.Averaged)
	}
	var ign []string
	for k, n := range r.Ignored {
		ign = append(ign, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(ign)
	if r.OtherEncoding > 0 {
		ign = append(ign, fmt.Sprintf("%d of other encoding spaces", r.OtherEncoding))
	}
	if len(ign) > 0 {
		fmt.Fprintf(&b, "; left out: %s", strings.Join(ign, ", "))
	}
	if r.ReadoutKept < r.ReadoutEncoded {
		fmt.Fprintf(&b, "; readout oversampling removed (%d → %d samples)", r.ReadoutEncoded, r.ReadoutKept)
	}
	if r.ThreeD {
		b.WriteString("; 3D: transformed along the readout, one slice per readout position")
	}
	for _, n := range r.Notes {
		b.WriteString("\nnote: " + n)
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
