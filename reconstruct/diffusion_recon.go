package reconstruct

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/kspace"
	shipped "github.com/tweedie-recon/tweedie/models"
	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/num/solve"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// The diffusion reconstructors: a learned score model (reconstruct/onnx)
// as the prior, joined to the SENSE or CT operator by the samplers of
// reconstruct/diffusion (see that package for the methods and papers).
//
//	dds        DDS (Chung, Lee & Ye, ICLR 2024)
//	score-mri  Score-MRI's VE predictor–corrector (Chung & Ye, MedIA 2022); on CT
//	           data the same sampler with the projector's data consistency
//	dps        DPS (Chung et al., ICLR 2023)
//	mbir       DDS steps with DiffusionMBIR's TV along z (Chung et al., CVPR 2023)
//
// Each serves MR and CT alike: the input decides the physics (SENSE or the
// projector) and the model (the card's modality). Parameters (rules and --set): model, nfe, eta, gamma,
// gamma_schedule, cg_iters, t0, init, init_iter, samples, antithetic, seed, batch, snr,
// zeta, vjp, lambda_z, rho_z, pad, budget; see docs/models.md. dds with none
// of nfe, samples, t0, antithetic and init runs on DefaultBudget per slice
// (budget.go); budget=off restores the fixed defaults.

func init() {
	for _, m := range []struct {
		name   string
		method diffusion.Method
		mbir   bool
	}{{"dds", diffusion.DDS, false}, {"score-mri", diffusion.ScoreMRI, false}, {"dps", diffusion.DPS, false}, {"mbir", diffusion.DDS, true}} {
		Register(&diffusionRecon{name: m.name, method: m.method, mbir: m.mbir})
	}
}

type diffusionRecon struct {
	name   string
	method diffusion.Method
	mbir   bool
}

func (d *diffusionRecon) Name() string { return d.name }

// Modality is empty: the diffusion reconstructors take MR and CT data.
func (d *diffusionRecon) Modality() string { return "" }

// diffParams are the parameters common to both modalities.
type diffParams struct {
	model, init, vjp, gammaSched string
	nfe, cgIters, samples, batch int
	initIter                     int
	initIterByViews              bool // the budget chooses init_iter by the CT views (ctInitIter)
	eta, gamma, t0, snr, zeta    float64
	lambdaZ, rhoZ                float64
	seed                         uint64
	seedGiven                    bool
	pad                          diffusion.PadMode
	antithetic                   bool
	budget                       time.Duration
	start                        time.Time
	etaGiven                     bool
	deadline                     time.Time
}

func (d *diffusionRecon) params(p *Params, modality string) (*diffParams, error) {
	defNFE := map[diffusion.Method]int{diffusion.DDS: 50, diffusion.ScoreMRI: 199, diffusion.DPS: 100}[d.method]
	defGamma := map[diffusion.Method]string{diffusion.DDS: "1000", diffusion.ScoreMRI: "inf", diffusion.DPS: "0"}[d.method]
	defInit := map[string]string{"MR": "cg", "CT": "fbp"}[modality]
	q := &diffParams{
		model:      p.String("model", ""),
		nfe:        p.Int("nfe", defNFE),
		eta:        p.Float("eta", 0.85),
		gammaSched: p.String("gamma_schedule", "const"),
		cgIters:    p.Int("cg_iters", 5),
		initIter:   p.Int("init_iter", 0),
		t0:         p.Float("t0", 1),
		init:       p.String("init", defInit),
		samples:    p.Int("samples", 1),
		batch:      p.Int("batch", 0),
		snr:        p.Float("snr", 0.16),
		zeta:       p.Float("zeta", 1),
		vjp:        p.String("vjp", "fd"),
		lambdaZ:    p.Float("lambda_z", 0.04),
	}
	q.rhoZ = p.Float("rho_z", 10*q.lambdaZ)
	gs := p.String("gamma", defGamma)
	if strings.EqualFold(gs, "inf") {
		q.gamma = math.Inf(1)
	} else {
		if _, err := fmt.Sscan(gs, &q.gamma); err != nil {
			return nil, fmt.Errorf("parameters: gamma=%q is not a number or inf", gs)
		}
	}
	if q.initIter < 0 {
		return nil, fmt.Errorf("parameters: init_iter=%d, want ≥ 0 (0: the start's own default)", q.initIter)
	}
	if s := p.String("seed", ""); s != "" {
		if _, err := fmt.Sscan(s, &q.seed); err != nil {
			return nil, fmt.Errorf("parameters: seed=%q is not an unsigned integer", s)
		}
		q.seedGiven = true
	}
	pad, err := diffusion.ParsePadMode(p.String("pad", "zero"))
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	q.pad = pad
	if q.budget, err = parseBudget(p.String("budget", "")); err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	q.etaGiven = p.Has("eta")
	if !p.Has("budget") && d.method == diffusion.DDS && !d.mbir && budgetConflict(p.Has) == nil {
		// No sampler settings: the default budget picks them.
		q.budget = DefaultBudget
	}
	if q.budget > 0 {
		if err := budgetConflict(p.Has); err != nil {
			return nil, err
		}
		if d.method != diffusion.DDS || d.mbir {
			return nil, fmt.Errorf("parameters: budget is measured for dds; %s takes nfe and samples", d.name)
		}
		q.init, q.t0 = budgetInit[modality], frontier[modality][0].t0
		q.initIterByViews = !p.Has("init_iter")
	}
	switch a := p.String("antithetic", "false"); a {
	case "true", "false":
		q.antithetic = a == "true"
	default:
		return nil, fmt.Errorf("parameters: antithetic=%q, want true or false", a)
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	if q.nfe < 1 || q.nfe > 100000 {
		return nil, fmt.Errorf("parameters: nfe=%d, want 1…100000", q.nfe)
	}
	switch q.gammaSched {
	case "const", "noise":
	default:
		return nil, fmt.Errorf("parameters: gamma_schedule=%q, want const or noise", q.gammaSched)
	}
	switch q.vjp {
	case "fd", "jacobian-free":
	default:
		return nil, fmt.Errorf("parameters: vjp=%q, want fd or jacobian-free", q.vjp)
	}
	switch q.init {
	case "zero-filled", "cg", "l1-wavelet", "fbp", "admm-tv", "none":
	default:
		return nil, fmt.Errorf("parameters: init=%q, want zero-filled, cg, l1-wavelet (MR), fbp, admm-tv (CT) or none", q.init)
	}
	if !q.seedGiven {
		var b [8]byte
		crand.Read(b[:])
		q.seed = binary.LittleEndian.Uint64(b[:])
	}
	return q, nil
}

// uncertainty reports whether the samples give an uncertainty series: not
// when a budget chose them — an antithetic pair is there for its mean, and
// the spread of two samples is no uncertainty map.
func (q *diffParams) uncertainty() bool { return q.samples > 1 && q.budget == 0 }

// config turns the parameters into a sampler configuration; steps are
// derived from the evaluation budget nfe.
func (q *diffParams) config(method diffusion.Method, mbir bool, log zerolog.Logger, name string) diffusion.Config {
	steps := q.nfe
	vjp := diffusion.VJPFiniteDifference
	if q.vjp == "jacobian-free" {
		vjp = diffusion.VJPJacobianFree
	}
	switch method {
	case diffusion.ScoreMRI:
		steps = (q.nfe + 1) / 2
	case diffusion.DPS:
		if vjp == diffusion.VJPFiniteDifference {
			steps = max(1, q.nfe/2)
		}
	}
	cfg := diffusion.Config{Method: method, Steps: steps, Eta: q.eta, Gamma: q.gamma, GammaNoise: q.gammaSched == "noise",
		CGIters: q.cgIters, T0: q.t0, SNR: q.snr, Zeta: q.zeta, VJP: vjp, Samples: q.samples, Batch: q.batch, Seed: q.seed,
		Antithetic: q.antithetic, Deadline: q.deadline}
	if mbir {
		cfg.TVZ = &diffusion.TVZ{Lambda: q.lambdaZ, Rho: q.rhoZ}
	}
	start := time.Now()
	last := start
	cfg.Progress = func(done, total int) {
		if now := time.Now(); now.Sub(last) >= 5*time.Second || done == total {
			last = now
			el := now.Sub(start)
			eta := time.Duration(float64(el) / float64(done) * float64(total-done))
			log.Info().Str("reconstructor", name).Int("step", done).Int("of", total).Dur("elapsed", el.Round(time.Millisecond)).
				Dur("eta", eta.Round(time.Second)).Msg("diffusion progress")
		}
	}
	return cfg
}

// findModel returns the model named by the parameter (a path, or a card
// name in the models folder) or the default one for the modality and size.
func findModel(rt *onnx.Runtime, name, modality string, rows, cols int) (*onnx.Model, error) {
	dir := rt.ModelsDir()
	if name != "" {
		if strings.HasSuffix(name, ".onnx") || strings.HasSuffix(name, ".yaml") || strings.ContainsRune(name, os.PathSeparator) {
			return rt.Load(name)
		}
		return rt.Load(filepath.Join(dir, name+".onnx"))
	}
	cards, errs := onnx.FindCards(dir)
	var fit []*onnx.Card
	for _, c := range cards {
		if _, _, ok := c.FitSize(rows, cols); c.Modality == modality && ok {
			fit = append(fit, c)
		}
	}
	if len(fit) == 0 {
		// The models shipped in the binary (models/), written once to a
		// cache folder: the folder's cards come first, these are the fallback.
		if sdir, err := shipped.Dir(); err == nil {
			scards, _ := onnx.FindCards(sdir)
			for _, c := range scards {
				if _, _, ok := c.FitSize(rows, cols); c.Modality == modality && ok {
					fit = append(fit, c)
				}
			}
		} else {
			errs = append(errs, err)
		}
	}
	if len(fit) == 0 {
		msg := fmt.Sprintf("no score model for %s images of %d×%d in %s or among the shipped models; name one with model=PATH, or install models (docs/models.md)", modality, rows, cols, dir)
		if len(errs) > 0 {
			msg += fmt.Sprintf(" (%d unusable cards there, first: %v)", len(errs), errs[0])
		}
		return nil, fmt.Errorf("%s", msg)
	}
	// A card that lists the size exactly comes before one that needs
	// padding; then the default.
	exact := func(c *onnx.Card) bool { return c.AcceptsSize(rows, cols) }
	sort.SliceStable(fit, func(i, j int) bool {
		if exact(fit[i]) != exact(fit[j]) {
			return exact(fit[i])
		}
		return fit[i].Default && !fit[j].Default
	})
	return rt.Load(fit[0].Path())
}

// denoiserFor returns the model as a denoiser of rows×cols images: at its
// own size when the card lists it, else padded (diffusion.Pad) to the
// smallest listed size that holds the image and cropped back.
func denoiserFor(m *onnx.Model, rows, cols int, pad diffusion.PadMode, log zerolog.Logger) (diffusion.Denoiser, error) {
	c := m.Card()
	if c.AcceptsSize(rows, cols) {
		return m.Denoiser(rows, cols)
	}
	r, cl, ok := c.FitSize(rows, cols)
	if !ok {
		return nil, fmt.Errorf("model %s: no listed size holds images of %d×%d (sizes up to %v)", c.Name, rows, cols, c.Sizes[len(c.Sizes)-1])
	}
	den, err := m.Denoiser(r, cl)
	if err != nil {
		return nil, err
	}
	log.Info().Str("model", c.Name).Str("image", fmt.Sprintf("%d×%d", rows, cols)).Str("canvas", fmt.Sprintf("%d×%d", r, cl)).
		Str("pad", pad.String()).Msg("padding images to a size the model accepts")
	return diffusion.Pad(den, rows, cols, pad)
}

func (d *diffusionRecon) Reconstruct(ctx context.Context, in *Input, p *Params, env Env) (*Output, error) {
	log := env.Log
	start := time.Now()
	q, err := d.params(p, in.Modality())
	if err != nil {
		return nil, err
	}
	q.start = start
	rt, err := env.Score.Open(log)
	if err != nil {
		return nil, err
	}
	log.Info().Str("reconstructor", d.name).Uint64("seed", q.seed).Bool("seed_given", q.seedGiven).Msg("diffusion sampler seeded")
	if in.MR != nil {
		return d.reconstructMR(ctx, rt, in.MR, q, log)
	}
	return d.reconstructCT(ctx, rt, in.CT, q, log)
}

func (d *diffusionRecon) describe(m *onnx.Model, q *diffParams, nfe int) string {
	s := fmt.Sprintf("tweedie %s model=%s nfe=%d", d.name, m.Card().Name, nfe)
	if q.t0 < 1 {
		s += fmt.Sprintf(" t0=%g from %s", q.t0, q.init)
	}
	if q.samples > 1 {
		s += fmt.Sprintf(" mean of %d", q.samples)
	}
	if q.budget > 0 {
		s += " budget=" + q.budget.String()
	}
	return s
}

func (d *diffusionRecon) reconstructMR(ctx context.Context, rt *onnx.Runtime, mr *MRInput, q *diffParams, log zerolog.Logger) (*Output, error) {
	if err := mr.check(); err != nil {
		return nil, err
	}
	model, err := findModel(rt, q.model, "MR", mr.Rows, mr.Cols)
	if err != nil {
		return nil, err
	}
	den, err := denoiserFor(model, mr.Rows, mr.Cols, q.pad, log)
	if err != nil {
		return nil, err
	}
	card := model.Card()
	if card.Channels != 2 {
		return nil, fmt.Errorf("model %s has %d channel(s); complex MR needs 2 (real, imaginary)", card.Name, card.Channels)
	}
	plane := mr.Rows * mr.Cols
	mask := maskOf(mr)
	slices := make([]diffusion.Slice[complex64], mr.Slices)
	scales := make([]float64, mr.Slices)
	supports := make([][]bool, mr.Slices)
	for s := range slices {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := mr.KSpace[s*mr.Coils*plane : (s+1)*mr.Coils*plane]
		res, err := kspace.ESPIRiT(k, mr.Coils, mr.Rows, mr.Cols, espiritConfig(k, mr.Coils, mr.Rows, mr.Cols, 24))
		if err != nil {
			return nil, fmt.Errorf("slice %d: ESPIRiT: %w", s, err)
		}
		maps := res.Maps
		newA := func() linop.Op[complex64] {
			a, err := kspace.NewSense(maps, mask)
			if err != nil {
				panic(err) // maps and mask were checked by the first NewSense
			}
			return a
		}
		a, err := kspace.NewSense(maps, mask)
		if err != nil {
			return nil, err
		}
		y := append([]complex64(nil), k...)
		mask.Apply(y)
		init, err := mrInit(ctx, a, y, q.init, mr.Coils, mr.Rows, mr.Cols, q.seed)
		if err != nil {
			return nil, fmt.Errorf("slice %d: initial estimate: %w", s, err)
		}
		scale := 1.0
		if card.Normalisation.Method == "percentile" {
			v := percentileAbs(init, card.Normalisation.Percentile)
			if v > 0 {
				scale = card.Normalisation.Value / v
			}
		}
		scales[s] = scale
		linop.Scale(y, complex64(complex(scale, 0)))
		if init != nil {
			linop.Scale(init, complex64(complex(scale, 0)))
		}
		sup := make([]bool, plane)
		for c := 0; c < mr.Coils; c++ {
			for i, v := range maps[c*plane : (c+1)*plane] {
				sup[i] = sup[i] || v != 0
			}
		}
		supports[s] = sup
		slices[s] = diffusion.Slice[complex64]{A: a, NewA: newA, Y: y, Init: init}
	}
	if q.budget > 0 {
		if err := q.fitBudget(ctx, den, "MR", len(slices), 0, time.Since(q.start), timeNormal(slices[0].A), log); err != nil {
			return nil, err
		}
	}
	cfg := q.config(d.method, d.mbir, log, d.name)
	if cfg.T0 >= 1 {
		for i := range slices {
			slices[i].Init = nil
		}
	}
	res, err := diffusion.Sample(ctx, den, slices, cfg)
	if err != nil {
		return nil, err
	}
	rows, cols := mr.imageSize()
	out := &Output{Slices: mr.Slices, Rows: rows, Cols: cols, Volume: make([]float32, mr.Slices*rows*cols),
		Description: d.describe(model, q, res.NFE)}
	var std *Output
	if q.uncertainty() {
		std = &Output{Slices: mr.Slices, Rows: rows, Cols: cols, Volume: make([]float32, mr.Slices*rows*cols),
			Description: out.Description + " std"}
	}
	mag := make([]float32, plane)
	for s := range slices {
		// Nothing constrains the prior outside the coil maps' support: it
		// is zero there (docs/methods.md).
		for i, v := range res.Mean[s] {
			if supports[s][i] {
				mag[i] = float32(math.Hypot(float64(real(v)), float64(imag(v))) / scales[s])
			} else {
				mag[i] = 0
			}
		}
		cropInto(out.Volume[s*rows*cols:(s+1)*rows*cols], mag, mr.Rows, mr.Cols, rows, cols)
		if std != nil {
			for i, v := range res.MagStd[s] {
				mag[i] = 0
				if supports[s][i] {
					mag[i] = float32(float64(v) / scales[s])
				}
			}
			cropInto(std.Volume[s*rows*cols:(s+1)*rows*cols], mag, mr.Rows, mr.Cols, rows, cols)
		}
	}
	if std != nil {
		out.Uncertainty = std
	}
	log.Info().Str("reconstructor", d.name).Str("model", card.Name).Str("provider", model.Provider()).Int("nfe", res.NFE).
		Int("samples", q.samples).Msg("diffusion reconstruction done")
	return out, nil
}

// mrInit is the initial estimate: zero-filled Aᴴy, or 10 CG iterations on
// AᴴAx = Aᴴy (CG-SENSE, early-stopped), or none.
// mrInit is the initial estimate: CCDF's start (Chung, Sim & Ye, "Come-
// closer-diffuse-faster", CVPR 2022) when t0 < 1, and the intensity scale.
// l1-wavelet is the CS reconstruction with its defaults (mrcs.go), on data
// scaled as BART scales it.
func mrInit(ctx context.Context, a *kspace.Sense, y []complex64, how string, coils, rows, cols int, seed uint64) ([]complex64, error) {
	aty := make([]complex64, a.InLen())
	a.Adjoint(aty, y)
	switch how {
	case "none":
		return nil, nil
	case "zero-filled":
		return aty, nil
	case "cg":
		x, _, err := solve.CG[complex64](linop.NewNormal[complex64](a), aty, nil, solve.CGConfig{MaxIter: 10})
		return x, err
	case "l1-wavelet":
		d := mrDefaults[how]
		scale := scaleLikeBART(y, coils, rows, cols)
		ys := append([]complex64(nil), y...)
		linop.Scale(ys, complex64(complex(1/scale, 0)))
		x, err := solveL1Wavelet(ctx, a, ys, &mrParams{rows: rows, cols: cols, lambda: d.lambda, iters: d.iters},
			rand.New(rand.NewPCG(seed, 0x5eed)))
		if err != nil {
			return nil, err
		}
		linop.Scale(x, complex64(complex(scale, 0)))
		return x, nil
	}
	return nil, fmt.Errorf("init %q is not an MR estimate (want zero-filled, cg, l1-wavelet or none)", how)
}

func percentileAbs[T linop.Scalar](x []T, pct float64) float64 {
	v := make([]float64, len(x))
	for i, a := range x {
		switch t := any(a).(type) {
		case complex64:
			v[i] = math.Hypot(float64(real(t)), float64(imag(t)))
		case float32:
			v[i] = math.Abs(float64(t))
		}
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	i := int(math.Round(pct / 100 * float64(len(v)-1)))
	return v[max(0, min(len(v)-1, i))]
}

func (d *diffusionRecon) reconstructCT(ctx context.Context, rt *onnx.Runtime, ct *CTInput, q *diffParams, log zerolog.Logger) (*Output, error) {
	proj, err := ct.Projector()
	if err != nil {
		return nil, err
	}
	n := ct.ImageSize
	mw := ct.MuWater
	if !(mw > 0) {
		mw = sinogram.DefaultMuWater
	}
	model, err := findModel(rt, q.model, "CT", n, n)
	if err != nil {
		return nil, err
	}
	den, err := denoiserFor(model, n, n, q.pad, log)
	if err != nil {
		return nil, err
	}
	card := model.Card()
	if card.Channels != 1 {
		return nil, fmt.Errorf("model %s has %d channels; CT needs 1", card.Name, card.Channels)
	}
	// The operator is scaled to unit norm, ‖A/L‖ = 1, so that gamma means
	// the same for CT as for MR (docs/methods.md: the published codes' CT
	// adjoints carry their own scale).
	l2, err := solve.NormalNorm[float32](proj, solve.PowerConfig{})
	if err != nil {
		return nil, err
	}
	L := math.Sqrt(l2)
	op := linop.Scaled[float32](proj, float32(1/L))
	fbp, err := sinogram.NewFBPFor(proj, sinogram.FBPConfig{})
	if err != nil {
		return nil, err
	}
	plane := ct.Views * ct.Detectors
	ones := make([]float32, n*n)
	for i := range ones {
		ones[i] = 1
	}
	a1 := make([]float32, plane)
	proj.Apply(a1, ones)
	slices := make([]diffusion.Slice[float32], ct.Slices)
	// Network intensity x = a·μ + b for each slice.
	as, bs := make([]float64, ct.Slices), make([]float64, ct.Slices)
	if q.initIterByViews {
		q.initIter = ctInitIter(ct.Views)
	}
	for s := range slices {
		sino := ct.Sinogram[s*plane : (s+1)*plane]
		var init []float32
		switch q.init {
		case "none":
		case "fbp":
			init = make([]float32, n*n)
			if err := fbp.Reconstruct(init, sino); err != nil {
				return nil, err
			}
		case "admm-tv":
			if init, err = ADMMTV(proj, sino, TVConfig{Iter: q.initIter,
				Callback: func(int, []float32) bool { return ctx.Err() == nil }}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("init %q is not a CT estimate (want fbp, admm-tv or none)", q.init)
		}
		a, b := 1.0, 0.0
		switch card.Normalisation.Method {
		case "hu-window":
			w := card.Normalisation.High - card.Normalisation.Low
			a, b = 1000/(mw*w), -(1000+card.Normalisation.Low)/w
		case "percentile":
			if init != nil {
				if v := percentileAbs(init, card.Normalisation.Percentile); v > 0 {
					a = card.Normalisation.Value / v
				}
			}
		}
		as[s], bs[s] = a, b
		// y_net = (a·y + b·A1)/L, so that A_net x = y_net with A_net = A/L.
		y := make([]float32, plane)
		for i, v := range sino {
			y[i] = float32((a*float64(v) + b*float64(a1[i])) / L)
		}
		if init != nil {
			for i, v := range init {
				init[i] = float32(a*float64(v) + b)
			}
		}
		slices[s] = diffusion.Slice[float32]{A: op, NewA: func() linop.Op[float32] { return linop.Scaled[float32](proj, float32(1/L)) }, Y: y, Init: init}
	}
	if q.budget > 0 {
		if err := q.fitBudget(ctx, den, "CT", len(slices), ct.Views, time.Since(q.start), timeNormal(slices[0].A), log); err != nil {
			return nil, err
		}
	}
	cfg := q.config(d.method, d.mbir, log, d.name)
	if cfg.T0 < 1 && q.init == "none" {
		return nil, fmt.Errorf("t0=%g needs an initial estimate (init=fbp)", cfg.T0)
	}
	res, err := diffusion.Sample(ctx, den, slices, cfg)
	if err != nil {
		return nil, err
	}
	out := &Output{Slices: ct.Slices, Rows: n, Cols: n, Volume: make([]float32, ct.Slices*n*n), Description: d.describe(model, q, res.NFE)}
	var std *Output
	if q.uncertainty() {
		std = &Output{Slices: ct.Slices, Rows: n, Cols: n, Volume: make([]float32, ct.Slices*n*n), Description: out.Description + " std"}
	}
	for s := range slices {
		mu := make([]float32, n*n)
		for i, v := range res.Mean[s] {
			mu[i] = float32((float64(v) - bs[s]) / as[s])
		}
		if err := sinogram.MuToHU(out.Volume[s*n*n:(s+1)*n*n], mu, mw); err != nil {
			return nil, err
		}
		if std != nil {
			for i, v := range res.MagStd[s] {
				std.Volume[s*n*n+i] = float32(1000 * float64(v) / as[s] / mw)
			}
		}
	}
	if std != nil {
		out.Uncertainty = std
	}
	log.Info().Str("reconstructor", d.name).Str("model", card.Name).Str("provider", model.Provider()).Int("nfe", res.NFE).
		Int("samples", q.samples).Msg("diffusion reconstruction done")
	return out, nil
}
