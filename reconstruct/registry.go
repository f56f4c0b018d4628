// Package reconstruct holds tweedie's reconstructors — the recipes of both
// modalities — and their registry: classical MR (zero-filled, CG-SENSE,
// L1-wavelet and TV compressed sensing), classical CT (FBP, SIRT, ADMM-TV,
// PDHG-TV) and the diffusion reconstructors (dds, score-mri, dps, mbir, on
// the samplers of reconstruct/diffusion). A reconstructor only assembles
// parts — operators from kspace and sinogram, solvers from num/solve — as
// SigPy's Apps do.
//
// The package knows nothing of DICOM or the network: callers convert raw-data
// objects into an Input and the Output into an image series.
package reconstruct

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MRInput is multi-coil Cartesian k-space shaped (Slices, Coils, Rows, Cols)
// in C order — rows along the readout, columns along phase encoding — with a
// Rows×Cols sampling mask shared by all slices and coils. The FFT convention
// is the centred orthonormal one (fastMRI's fft2c).
type MRInput struct {
	Slices, Coils, Rows, Cols int
	KSpace                    []complex64
	Mask                      []uint8
	// ImageRows, ImageCols: the image matrix to return (a centred crop of
	// the Rows×Cols image, e.g. to remove readout oversampling); zero means
	// Rows×Cols.
	ImageRows, ImageCols int
}

// CTInput is a stack of sinograms with its geometry.
type CTInput struct {
	Slices, Views, Detectors int
	Sinogram                 []float32 // line integrals of attenuation (1/mm × mm)
	AnglesDeg                []float64
	Beam                     string  // PARALLEL or FAN
	DetectorSpacing          float64 // mm (parallel) or degrees (fan)
	DetectorOffset           float64 // centre of rotation offset in detector elements
	SourceIso, SourceDet     float64 // mm, fan beam
	ImageSize                int     // N of the N×N reconstruction
	PixelMM                  float64
	MuWater                  float64 // 1/mm
}

// Input is the data of one acquisition: exactly one of MR and CT is set.
type Input struct {
	MR *MRInput
	CT *CTInput
}

// Modality returns "MR" or "CT".
func (in *Input) Modality() string {
	if in.MR != nil {
		return "MR"
	}
	return "CT"
}

// Output is a reconstructed volume: MR magnitude in the physical scale of
// the data (orthonormal FFT, coil maps with Σ|S|² = 1), CT in Hounsfield
// units.
type Output struct {
	Slices, Rows, Cols int
	Volume             []float32
	// Description names the reconstructor and its main parameters, for the
	// series description.
	Description string
	// Uncertainty, when the method drew several posterior samples, is the
	// per-pixel standard deviation in the same units, written as a second
	// derived series.
	Uncertainty *Output
}

// Reconstructor is one method.
type Reconstructor interface {
	Name() string
	// Modality is "MR" or "CT", or empty for a method that takes both.
	Modality() string
	// Reconstruct runs the method. Parameters it does not know are errors
	// (Params.Check); progress goes to env.Log.
	Reconstruct(ctx context.Context, in *Input, p *Params, env Env) (*Output, error)
}

var (
	regMu    sync.RWMutex
	registry = map[string]Reconstructor{}
)

// Register adds a reconstructor; it panics on a duplicate name (a
// programming error at init time).
func Register(r Reconstructor) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[r.Name()]; dup {
		panic("reconstruct: duplicate reconstructor " + r.Name())
	}
	registry[r.Name()] = r
}

// Lookup finds a reconstructor by name.
func Lookup(name string) (Reconstructor, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown reconstructor %q (known: %s)", name, strings.Join(namesLocked(), ", "))
	}
	return r, nil
}

// Names lists the registered reconstructors.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Run looks up and runs a reconstructor after checking the modality and the
// parameters.
func Run(ctx context.Context, name string, in *Input, params map[string]string, env Env) (*Output, error) {
	r, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if m := r.Modality(); m != "" && m != in.Modality() {
		return nil, fmt.Errorf("reconstructor %s is for %s data, the input is %s", name, r.Modality(), in.Modality())
	}
	p := NewParams(params)
	out, err := r.Reconstruct(ctx, in, p, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Params are a reconstructor's settings as strings (from --set key=value or
// a rule). Getters parse and record which keys were used; Check reports
// keys nobody asked for, so that a typo is an error, not a silent default.
type Params struct {
	vals map[string]string
	used map[string]bool
	errs []string
}

// NewParams wraps a map (nil is fine).
func NewParams(m map[string]string) *Params {
	if m == nil {
		m = map[string]string{}
	}
	return &Params{vals: m, used: map[string]bool{}}
}

// ParseSettings turns "key=value" strings into a map.
func ParseSettings(sets []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--set %q: want key=value", s)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// Float returns a float parameter or its default.
func (p *Params) Float(key string, def float64) float64 {
	p.used[key] = true
	s, ok := p.vals[key]
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("%s=%q is not a number", key, s))
		return def
	}
	return v
}

// Int returns an integer parameter or its default.
func (p *Params) Int(key string, def int) int {
	p.used[key] = true
	s, ok := p.vals[key]
	if !ok {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("%s=%q is not an integer", key, s))
		return def
	}
	return v
}

// String returns a string parameter or its default.
func (p *Params) String(key, def string) string {
	p.used[key] = true
	if s, ok := p.vals[key]; ok {
		return s
	}
	return def
}

// Has reports whether the parameter was given (not defaulted).
func (p *Params) Has(key string) bool {
	_, ok := p.vals[key]
	return ok
}

// Check returns an error for unparsable values and unknown keys.
func (p *Params) Check() error {
	errs := append([]string(nil), p.errs...)
	var unknown []string
	for k := range p.vals {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Sprintf("unknown parameter %q", k))
	}
	if len(errs) > 0 {
		return fmt.Errorf("parameters: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Describe renders the values given (not the defaults) for descriptions.
func (p *Params) Describe() string {
	var keys []string
	for k := range p.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+p.vals[k])
	}
	return strings.Join(parts, " ")
}
