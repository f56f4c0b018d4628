package reconstruct

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tweedie-recon/tweedie/sinogram"
)

// The classical CT reconstructions, slice by slice: filtered
// back-projection (Kak & Slaney, ch. 3), SIRT, and total-variation
// regularised least squares by ADMM for sparse views (Sidky & Pan, Phys
// Med Biol 53:4777, 2008), with the matched Joseph projector of package
// sinogram. Images come out in Hounsfield units.

func init() {
	Register(ctMethod{name: "fbp"})
	Register(ctMethod{name: "sirt"})
	Register(ctMethod{name: "admm-tv"})
}

type ctMethod struct{ name string }

func (m ctMethod) Name() string     { return m.name }
func (m ctMethod) Modality() string { return "CT" }

// Projector returns the projector of a CT input's geometry.
func (c *CTInput) Projector() (*sinogram.Projector, error) {
	if c == nil {
		return nil, fmt.Errorf("no CT input")
	}
	if c.Slices < 1 || c.Views < 1 || c.Detectors < 2 || len(c.Sinogram) != c.Slices*c.Views*c.Detectors || len(c.AnglesDeg) != c.Views {
		return nil, fmt.Errorf("CT input of %d samples and %d angles does not fit %d × %d × %d", len(c.Sinogram), len(c.AnglesDeg), c.Slices, c.Views, c.Detectors)
	}
	grid := sinogram.Square(c.ImageSize, c.PixelMM)
	switch c.Beam {
	case "PARALLEL":
		return sinogram.NewParallelProjector(sinogram.ParallelGeometry{AnglesDeg: c.AnglesDeg, NDet: c.Detectors,
			DetSpacing: c.DetectorSpacing, CenterOffset: c.DetectorOffset}, grid)
	case "FAN":
		// The raw data give the equiangular spacing in degrees; the
		// projector wants the arc length on the detector.
		return sinogram.NewFanProjector(sinogram.FanGeometry{AnglesDeg: c.AnglesDeg, NDet: c.Detectors, SourceIso: c.SourceIso,
			SourceDet: c.SourceDet, DetSpacing: c.DetectorSpacing * math.Pi / 180 * c.SourceDet, CenterOffset: c.DetectorOffset}, grid)
	}
	return nil, fmt.Errorf("beam geometry %q, want PARALLEL or FAN", c.Beam)
}

// ctParams are the parameters of one CT method.
type ctParams struct {
	filter sinogram.Filter // fbp
	cutoff float64         // fbp
	iters  int             // sirt
	tv     TVConfig        // admm-tv
}

// params parses the method's parameters; unknown keys are errors.
func (m ctMethod) params(p *Params) (*ctParams, error) {
	q := &ctParams{}
	switch m.name {
	case "fbp":
		f, err := sinogram.ParseFilter(p.String("filter", "ram-lak"))
		if err != nil {
			return nil, err
		}
		q.filter, q.cutoff = f, p.Float("cutoff", 1)
	case "sirt":
		q.iters = p.Int("iters", 100)
	case "admm-tv":
		q.tv = TVConfig{Lambda: p.Float("lambda", 0), Rho: p.Float("rho", 0), Iter: p.Int("iters", 0), CGIter: p.Int("cg_iters", 0)}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return q, nil
}

func (m ctMethod) Reconstruct(ctx context.Context, in *Input, p *Params, env Env) (*Output, error) {
	log := env.Log
	ct := in.CT
	proj, err := ct.Projector()
	if err != nil {
		return nil, err
	}
	q, err := m.params(p)
	if err != nil {
		return nil, err
	}
	var desc string
	var one func(sino []float32) ([]float32, error)
	switch m.name {
	case "fbp":
		fbp, err := sinogram.NewFBPFor(proj, sinogram.FBPConfig{Filter: q.filter, Cutoff: q.cutoff})
		if err != nil {
			return nil, err
		}
		desc = fmt.Sprintf("tweedie fbp filter=%s", q.filter)
		one = func(sino []float32) ([]float32, error) {
			x := make([]float32, proj.InLen())
			return x, fbp.Reconstruct(x, sino)
		}
	case "sirt":
		desc = fmt.Sprintf("tweedie sirt iters=%d", q.iters)
		one = func(sino []float32) ([]float32, error) {
			return SIRT(proj, sino, SIRTConfig{Iter: q.iters,
				Callback: func(int, []float32) bool { return ctx.Err() == nil }})
		}
	case "admm-tv":
		cfg := q.tv
		cfg.Callback = func(int, []float32) bool { return ctx.Err() == nil }
		desc = "tweedie admm-tv"
		if cfg.Lambda != 0 {
			desc += fmt.Sprintf(" lambda=%g", cfg.Lambda)
		}
		one = func(sino []float32) ([]float32, error) { return ADMMTV(proj, sino, cfg) }
	}
	n := ct.ImageSize
	out := &Output{Slices: ct.Slices, Rows: n, Cols: n, Volume: make([]float32, ct.Slices*n*n), Description: desc}
	plane := ct.Views * ct.Detectors
	start := time.Now()
	for s := 0; s < ct.Slices; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mu, err := one(ct.Sinogram[s*plane : (s+1)*plane])
		if err != nil {
			return nil, fmt.Errorf("slice %d: %w", s, err)
		}
		if err := sinogram.MuToHU(out.Volume[s*n*n:(s+1)*n*n], mu, ct.MuWater); err != nil {
			return nil, err
		}
		progress(log, m.name, s+1, ct.Slices, start)
	}
	return out, ctx.Err()
}
