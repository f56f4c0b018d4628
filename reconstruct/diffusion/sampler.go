package diffusion

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/num/solve"
)

// Method selects a sampler.
type Method int

const (
	// DDS is the decomposed diffusion sampler (DDIM + CG data consistency).
	DDS Method = iota + 1
	// ScoreMRI is the VE predictor–corrector sampler with data
	// consistency after each update.
	ScoreMRI
	// DPS is diffusion posterior sampling.
	DPS
)

func (m Method) String() string {
	switch m {
	case DDS:
		return "dds"
	case ScoreMRI:
		return "score-mri"
	case DPS:
		return "dps"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// VJP selects how DPS gets the vector–Jacobian product of the denoiser.
type VJP int

const (
	// VJPFiniteDifference: Jᵀv = Jv ≈ (x̂0(x + δv) − x̂0(x))/δ, one extra
	// evaluation per step; exact up to O(δ) for a conservative score.
	VJPFiniteDifference VJP = iota
	// VJPJacobianFree: J ≈ I (manifold-preserving guidance); no extra
	// evaluation, biased where the denoiser shrinks strongly (high noise).
	VJPJacobianFree
)

// TVZ configures DiffusionMBIR's total variation along z.
type TVZ struct {
	// Lambda weighs ‖D_z x‖₁; Rho is the ADMM penalty (default 10·Lambda).
	Lambda, Rho float64
}

// Config configures Sample. Zero fields take the defaults in brackets,
// except Eta and Gamma, which are used as given (the reconstructors set
// their defaults).
type Config struct {
	Method Method
	// Steps N of the full schedule, u = k/N [50]. A CCDF start runs the
	// last ⌈T0·N⌉ of them.
	Steps int
	// Eta is DDS's η: x ← α′x̃0 + σ′(ηz + √(1−η²)ε̂) (0: deterministic).
	Eta float64
	// Gamma: DDS's data-consistency weight in (I + γAᴴA)x = x̂0 + γAᴴy
	// (+Inf: projection onto Ax = y, 0: none); Score-MRI's likelihood
	// precision (+Inf: projection, Score-MRI's choice). Unused by DPS.
	Gamma float64
	// GammaNoise (DDS) scales the data-consistency weight with the noise
	// level, γ_t = Gamma·(σ_t/α_t)², DiffPIR's schedule (Zhu Y, Zhang K,
	// Liang J, Cao J, Wen B, Timofte R, Van Gool L, "Denoising diffusion
	// models for plug-and-play image restoration", CVPR Workshops 2023),
	// for which Gamma is the likelihood precision as in Score-MRI. Off, γ
	// is constant as in DDS.
	GammaNoise bool
	// CGIters bounds the conjugate-gradient steps of each data-consistency
	// solve [5].
	CGIters int
	// T0 is CCDF's start u0 ∈ (0, 1] [1: from pure noise]. Below 1 every
	// Slice needs Init.
	T0 float64
	// SNR is Score-MRI's Langevin signal-to-noise ratio [0.16].
	SNR float64
	// Zeta is DPS's step ζ for a 1000-step schedule [1]; with N steps each
	// step uses ζ·1000/N, so that the total guidance does not depend on N.
	Zeta float64
	// VJP selects DPS's vector–Jacobian product [finite difference].
	VJP VJP
	// FDStep is the finite difference's relative step h: δ = h·‖x‖/‖v‖
	// [1e-3].
	FDStep float64
	// TVZ, when set, couples the slices of each sample by DiffusionMBIR's
	// ADMM step (DDS and Score-MRI only; needs a finite Gamma).
	TVZ *TVZ
	// Samples K drawn per slice [1].
	Samples int
	// Antithetic pairs the samples: sample 2i+1 draws the negated noise of
	// sample 2i. Each sample is still a posterior sample, but the pair's
	// mean cancels the noise to first order (exactly for a linear-Gaussian
	// problem), which shrinks the Monte Carlo error of the mean. Samples
	// must then be even.
	Antithetic bool
	// KeepSamples returns every sample in Result.Samples.
	KeepSamples bool
	// Batch bounds the images per network call [the model's bound, else
	// all images at once].
	Batch int
	// Seed seeds the generator; sample k of slice j draws from its own
	// PCG stream (Seed, k·S+j), so results do not depend on scheduling.
	Seed uint64
	// Deadline, when set, bounds DDS: when the steps left would end after
	// it, at the pace of the steps run so far, the rest of the schedule is
	// run in fewer, larger steps (regrid); at least one step always runs.
	Deadline time.Time
	// Progress, when set, is called after each step with the steps done
	// and the total.
	Progress func(done, total int)
}

// Slice is one 2D image to reconstruct: y = A·x + noise, with an optional
// initial estimate for a CCDF start. Images are Rows·Cols values of T,
// complex64 for 2-channel models and float32 for 1-channel ones, in the
// model's intensity scale. Operators of different slices must not share
// scratch space (slices run in parallel).
type Slice[T linop.Scalar] struct {
	A    linop.Op[T]
	Y    []T
	Init []T
	// NewA, when set, returns a fresh copy of A with scratch space of its
	// own: the samples of the slice then run their data consistency in
	// parallel too.
	NewA func() linop.Op[T]
}

// Result holds the posterior statistics of each slice over the samples.
type Result[T linop.Scalar] struct {
	// Mean is the sample mean (the posterior-mean estimate).
	Mean [][]T
	// Var is the per-pixel sample variance (K−1 in the denominator) of the
	// values: E|x − m|² for complex images. Zero when K = 1.
	Var [][]float32
	// MagStd is the per-pixel standard deviation of |x| (complex) or of x
	// (real): the uncertainty map of the displayed image.
	MagStd [][]float32
	// NFE is the number of network evaluations per image; Steps the steps
	// run.
	NFE, Steps int
	// Samples[j][k] is sample k of slice j (Config.KeepSamples only).
	Samples [][][]T
}

func (c Config) withDefaults() Config {
	if c.Steps == 0 {
		c.Steps = 50
	}
	if c.CGIters == 0 {
		c.CGIters = 5
	}
	if c.T0 == 0 {
		c.T0 = 1
	}
	if c.SNR == 0 {
		c.SNR = 0.16
	}
	if c.Zeta == 0 {
		c.Zeta = 1
	}
	if c.FDStep == 0 {
		c.FDStep = 1e-3
	}
	if c.Samples == 0 {
		c.Samples = 1
	}
	if c.TVZ != nil && c.TVZ.Rho == 0 {
		t := *c.TVZ
		t.Rho = 10 * t.Lambda
		c.TVZ = &t
	}
	return c
}

// StepsRun is the number of steps a CCDF start at t0 runs of an N-step
// schedule: ⌈t0·N⌉, at least 1.
func StepsRun(n int, t0 float64) int {
	k := int(math.Ceil(t0*float64(n) - 1e-9))
	return max(1, min(n, k))
}

// ErrConfig reports an unusable sampler configuration or input.
var ErrConfig = errors.New("diffusion: bad configuration")

func (c Config) validate(nslices int, hasInit bool) error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrConfig}, a...)...) }
	switch c.Method {
	case DDS, ScoreMRI, DPS:
	default:
		return bad("unknown method %d", int(c.Method))
	}
	if c.Steps < 1 || c.Steps > 100000 {
		return bad("%d steps, want 1…100000", c.Steps)
	}
	if !(c.Eta >= 0 && c.Eta <= 1) {
		return bad("eta = %g, want 0…1", c.Eta)
	}
	if math.IsNaN(c.Gamma) || c.Gamma < 0 {
		return bad("gamma = %g, want ≥ 0 or inf", c.Gamma)
	}
	if c.CGIters < 1 || c.CGIters > 10000 {
		return bad("cg_iters = %d, want 1…10000", c.CGIters)
	}
	if !(c.T0 > 0 && c.T0 <= 1) {
		return bad("t0 = %g, want 0 < t0 ≤ 1", c.T0)
	}
	if c.T0 < 1 && !hasInit {
		return bad("t0 = %g needs an initial estimate for every slice", c.T0)
	}
	if !(c.SNR > 0) || !(c.Zeta > 0) || math.IsInf(c.Zeta, 0) || !(c.FDStep > 0 && c.FDStep < 1) {
		return bad("snr = %g, zeta = %g, fd step = %g: want positive (fd step < 1)", c.SNR, c.Zeta, c.FDStep)
	}
	if c.Samples < 1 || c.Samples > 1000 {
		return bad("%d samples, want 1…1000", c.Samples)
	}
	if c.Antithetic && c.Samples%2 != 0 {
		return bad("antithetic sampling needs an even number of samples, got %d", c.Samples)
	}
	if c.Batch < 0 {
		return bad("batch = %d", c.Batch)
	}
	if c.TVZ != nil {
		if c.Method == DPS {
			return bad("TV along z (mbir) needs the dds or score-mri sampler, not dps")
		}
		if math.IsInf(c.Gamma, 0) || c.Gamma == 0 {
			return bad("TV along z (mbir) needs a finite, positive gamma (got %g)", c.Gamma)
		}
		if !(c.TVZ.Lambda >= 0) || !(c.TVZ.Rho > 0) || math.IsInf(c.TVZ.Lambda, 0) || math.IsInf(c.TVZ.Rho, 0) {
			return bad("TV along z: lambda = %g, rho = %g", c.TVZ.Lambda, c.TVZ.Rho)
		}
		if nslices < 2 {
			return bad("TV along z needs at least 2 slices, got %d", nslices)
		}
	}
	return nil
}

// channelsOf is the number of network channels an image of T fills.
func channelsOf[T linop.Scalar]() int {
	var z T
	if _, ok := any(z).(complex64); ok {
		return 2
	}
	return 1
}

// sampler is the state of one Sample call.
type sampler[T linop.Scalar] struct {
	ctx    context.Context
	den    Denoiser
	info   ModelInfo
	sched  *Schedule
	cfg    Config
	slices []Slice[T]
	dcs    []*sliceDC[T]   // per image, index k·S + j
	indep  bool            // every image has an operator of its own
	mbir   []*mbirState[T] // per sample
	S, K   int
	n      int   // pixels per image
	x      [][]T // state per image, index k·S + j
	rngs   []*rand.Rand
	neg    []bool // antithetic: negate the noise of this image
	batch  int
	nfe    int
	planIn []float32
	planX0 []float32
}

// Sample runs the configured sampler on the slices and returns the mean
// and spread of cfg.Samples posterior samples per slice.
func Sample[T linop.Scalar](ctx context.Context, den Denoiser, slices []Slice[T], cfg Config) (*Result[T], error) {
	cfg = cfg.withDefaults()
	if den == nil {
		return nil, fmt.Errorf("%w: no denoiser", ErrConfig)
	}
	info := den.Info()
	if err := info.Schedule.Validate(); err != nil {
		return nil, err
	}
	if ch := channelsOf[T](); info.Channels != ch {
		return nil, fmt.Errorf("%w: model %q takes %d channels, the images have %d (2: complex MR, 1: real)", ErrConfig, info.Name, info.Channels, ch)
	}
	if len(slices) == 0 {
		return nil, fmt.Errorf("%w: no slices", ErrConfig)
	}
	hasInit := true
	n := info.Rows * info.Cols
	for j, s := range slices {
		if s.A == nil || s.A.InLen() != n || len(s.Y) != s.A.OutLen() {
			in, out := 0, 0
			if s.A != nil {
				in, out = s.A.InLen(), s.A.OutLen()
			}
			return nil, fmt.Errorf("%w: slice %d: operator %d → %d and %d data values do not fit the model's %d×%d images",
				ErrConfig, j, in, out, len(s.Y), info.Rows, info.Cols)
		}
		if s.Init == nil {
			hasInit = false
		} else if len(s.Init) != n {
			return nil, fmt.Errorf("%w: slice %d: initial estimate of %d values, want %d", ErrConfig, j, len(s.Init), n)
		}
	}
	if err := cfg.validate(len(slices), hasInit); err != nil {
		return nil, err
	}
	sm := &sampler[T]{ctx: ctx, den: den, info: info, sched: info.Schedule, cfg: cfg, slices: slices,
		S: len(slices), K: cfg.Samples, n: n}
	sm.batch = sm.S * sm.K
	if info.MaxBatch > 0 {
		sm.batch = min(sm.batch, info.MaxBatch)
	}
	if cfg.Batch > 0 {
		sm.batch = min(sm.batch, cfg.Batch)
	}
	sm.indep = true
	for _, s := range slices {
		sm.indep = sm.indep && s.NewA != nil
	}
	sm.dcs = make([]*sliceDC[T], sm.S*sm.K)
	for i := range sm.dcs {
		s, k := slices[i%sm.S], i/sm.S
		switch {
		case sm.indep:
			s.A = s.NewA()
			sm.dcs[i] = newSliceDC(s, cfg.CGIters)
		case k == 0:
			sm.dcs[i] = newSliceDC(s, cfg.CGIters)
		default:
			sm.dcs[i] = sm.dcs[i%sm.S]
		}
	}
	if cfg.TVZ != nil {
		sm.mbir = make([]*mbirState[T], sm.K)
		for k := range sm.mbir {
			st, err := newMBIR(sm.dcs[k*sm.S:(k+1)*sm.S], info.Rows, info.Cols, *cfg.TVZ, cfg.CGIters)
			if err != nil {
				return nil, err
			}
			sm.mbir[k] = st
		}
	}
	sm.x = make([][]T, sm.S*sm.K)
	sm.rngs = make([]*rand.Rand, sm.S*sm.K)
	sm.neg = make([]bool, sm.S*sm.K)
	for i := range sm.x {
		sm.x[i] = make([]T, n)
		stream := i
		if k := i / sm.S; cfg.Antithetic && k%2 == 1 {
			stream, sm.neg[i] = i-sm.S, true
		}
		sm.rngs[i] = rand.New(rand.NewPCG(cfg.Seed, uint64(stream)))
	}
	var err error
	switch cfg.Method {
	case DDS:
		err = sm.runDDS()
	case ScoreMRI:
		err = sm.runScoreMRI()
	case DPS:
		err = sm.runDPS()
	}
	if err != nil {
		return nil, err
	}
	return sm.result(), nil
}

// grid returns u_k = u0·k/N′ for k = 0…N′ (u_0 = 0, the clean image).
func (sm *sampler[T]) grid() []float64 {
	nu := StepsRun(sm.cfg.Steps, sm.cfg.T0)
	u := make([]float64, nu+1)
	for k := range u {
		u[k] = sm.cfg.T0 * float64(k) / float64(nu)
	}
	if sm.cfg.T0 >= 1 {
		// Exactly k/N from pure noise, so VP steps stay integers.
		for k := range u {
			u[k] = float64(k) / float64(nu)
		}
	}
	return u
}

// start sets every state to α·init + σ·z at level lv (init 0 without a
// CCDF start); scale multiplies init (1/α for VE coordinates).
func (sm *sampler[T]) start(alpha, sigma float64) {
	for i, x := range sm.x {
		sm.noise(i, x)
		linop.Scale(x, scalarOf[T](sigma))
		if init := sm.slices[i%sm.S].Init; init != nil && sm.cfg.T0 < 1 {
			linop.Axpy(x, scalarOf[T](alpha), init)
		}
	}
}

// denoise returns x̂0 for the images xs (each of n values) evaluated at
// level lv on the network input scale·x, in batches.
func (sm *sampler[T]) denoise(xs [][]T, scale float64, lv Level) ([][]T, error) {
	out := make([][]T, len(xs))
	for i := range out {
		out[i] = make([]T, sm.n)
	}
	return out, sm.denoiseInto(out, xs, scale, lv)
}

// denoiseInto is denoise writing into out (len(xs) images of n values).
func (sm *sampler[T]) denoiseInto(out, xs [][]T, scale float64, lv Level) error {
	il := sm.info.ImageLen()
	for b0 := 0; b0 < len(xs); b0 += sm.batch {
		if err := sm.ctx.Err(); err != nil {
			return err
		}
		nb := min(sm.batch, len(xs)-b0)
		if cap(sm.planIn) < nb*il {
			sm.planIn = make([]float32, nb*il)
			sm.planX0 = make([]float32, nb*il)
		}
		in, x0 := sm.planIn[:nb*il], sm.planX0[:nb*il]
		for b := 0; b < nb; b++ {
			toPlanar(in[b*il:(b+1)*il], xs[b0+b], float32(scale))
		}
		if err := sm.den.Denoise(sm.ctx, x0, in, nb, lv); err != nil {
			return fmt.Errorf("model %s at u = %.4g (σ/α = %.4g): %w", sm.info.Name, lv.U, lv.VESigma(), err)
		}
		if err := CheckFinite(fmt.Sprintf("model %s output at u = %.4g", sm.info.Name, lv.U), x0); err != nil {
			return err
		}
		for b := 0; b < nb; b++ {
			fromPlanar(out[b0+b], x0[b*il:(b+1)*il])
		}
	}
	return nil
}

// images allocates one buffer of n values per image.
func (sm *sampler[T]) images() [][]T {
	b := make([][]T, len(sm.x))
	for i := range b {
		b[i] = make([]T, sm.n)
	}
	return b
}

// noise fills z with the standard normal noise of image i.
func (sm *sampler[T]) noise(i int, z []T) {
	randn(sm.rngs[i], z)
	if sm.neg[i] {
		linop.Scale(z, scalarOf[T](-1))
	}
}

// dc applies data consistency with weight w to every image (in place),
// slices in parallel; mult scales the MBIR step (1 for DDS, ε for
// Score-MRI).
func (sm *sampler[T]) dc(xs [][]T, w, mult float64) error {
	if w == 0 {
		return nil
	}
	if sm.mbir != nil {
		return sm.forSamples(func(k int) error { return sm.mbir[k].step(xs[k*sm.S:(k+1)*sm.S], w, mult) })
	}
	return sm.forImages(func(i int) error {
		if err := sm.dcs[i].apply(xs[i], w); err != nil {
			return fmt.Errorf("data consistency, slice %d: %w", i%sm.S, err)
		}
		return nil
	})
}

// forImages runs fn on every image index, in parallel where operators are
// not shared.
func (sm *sampler[T]) forImages(fn func(i int) error) error {
	if sm.indep {
		return parallel(sm.S*sm.K, fn)
	}
	return parallel(sm.S, func(j int) error {
		for k := 0; k < sm.K; k++ {
			if err := fn(k*sm.S + j); err != nil {
				return err
			}
		}
		return nil
	})
}

// forSamples runs fn on every sample (a volume), in parallel where
// operators are not shared.
func (sm *sampler[T]) forSamples(fn func(k int) error) error {
	if sm.indep {
		return parallel(sm.K, fn)
	}
	for k := 0; k < sm.K; k++ {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (sm *sampler[T]) progress(done, total int) {
	if sm.cfg.Progress != nil {
		sm.cfg.Progress(done, total)
	}
}

// runDDS: DDIM with η in DDS's form and CG data consistency on x̂0.
func (sm *sampler[T]) runDDS() error {
	u := sm.grid()
	nu := len(u) - 1
	top := sm.sched.At(u[nu])
	sm.start(top.Alpha, top.Sigma)
	eta := sm.cfg.Eta
	// x̂0 and ε̂ of every image, reused by every step.
	x0, eps := sm.images(), sm.images()
	// The pace is taken from the second step on: the first call of the
	// network at a new batch size pays for ONNX Runtime's memory planning.
	var t1 time.Time
	done := 0
	for k := nu; k >= 1; k-- {
		if done > 1 && k > 1 && !sm.cfg.Deadline.IsZero() {
			u, k = regrid(u, k, time.Since(t1)/time.Duration(done-1), time.Until(sm.cfg.Deadline))
			nu = done + k
		}
		lv, nx := sm.sched.At(u[k]), sm.sched.At(u[k-1])
		if err := sm.denoiseInto(x0, sm.x, 1, lv); err != nil {
			return err
		}
		sm.nfe++
		// ε̂ = (x − α x̂0)/σ, from the network's x̂0 before data consistency.
		for i, x := range sm.x {
			e := eps[i]
			for p := range e {
				e[p] = (x[p] - scalarOf[T](lv.Alpha)*x0[i][p]) * scalarOf[T](1/lv.Sigma)
			}
		}
		gamma := sm.cfg.Gamma
		if sm.cfg.GammaNoise && !math.IsInf(gamma, 1) {
			gamma *= lv.VESigma() * lv.VESigma()
		}
		if err := sm.dc(x0, gamma, 1); err != nil {
			return err
		}
		// x ← α′x̃0 + σ′(ηz + √(1−η²)ε̂)
		ce := math.Sqrt(max(0, 1-eta*eta))
		for i, x := range sm.x {
			sm.noise(i, x)
			for p := range x {
				x[p] = scalarOf[T](nx.Alpha)*x0[i][p] + scalarOf[T](nx.Sigma)*(scalarOf[T](eta)*x[p]+scalarOf[T](ce)*eps[i][p])
			}
		}
		done++
		if done == 1 {
			t1 = time.Now()
		}
		sm.progress(nu-k+1, nu)
	}
	return nil
}

// regrid keeps a DDIM run inside its deadline: at index k of the grid u
// (the next step goes from u[k] to u[k−1]), with steps costing per and left
// time left, it returns a grid whose remaining steps fit — the same end
// points, u[k] down to 0 in as many equal steps as fit (at least one) — and
// the new index. DDIM's update is defined between any two levels (Song,
// Meng & Ermon, ICLR 2021), so a coarser tail is again a DDIM run, only a
// shorter one.
func regrid(u []float64, k int, per, left time.Duration) ([]float64, int) {
	if per <= 0 || time.Duration(k)*per <= left {
		return u, k
	}
	m := max(1, int(left/per))
	if m >= k {
		return u, k
	}
	top := u[k]
	g := make([]float64, m+1)
	for j := range g {
		g[j] = top * float64(j) / float64(m)
	}
	return g, m
}

// runScoreMRI: VE predictor–corrector in VE coordinates x̃ = x/α.
func (sm *sampler[T]) runScoreMRI() error {
	u := sm.grid()
	nu := len(u) - 1
	top := sm.sched.At(u[nu])
	// x̃ = init + σ_VE·z (VE coordinates: α = 1).
	sm.start(1, top.VESigma())
	gamma := sm.cfg.Gamma
	w := func(step float64) float64 {
		if math.IsInf(gamma, 1) {
			return gamma
		}
		return step * gamma
	}
	score := func(lv Level) ([][]T, error) {
		x0, err := sm.denoise(sm.x, lv.Alpha, lv)
		if err != nil {
			return nil, err
		}
		sm.nfe++
		s2 := lv.VESigma() * lv.VESigma()
		for i, x := range sm.x {
			for p := range x0[i] {
				x0[i][p] = (x0[i][p] - x[p]) * scalarOf[T](1/s2) // s̃ = (x̂0 − x̃)/σ²
			}
		}
		return x0, nil
	}
	z := make([]T, sm.n)
	for k := nu; k >= 1; k-- {
		lv := sm.sched.At(u[k])
		sk := lv.VESigma()
		sn := 0.0
		if k > 1 {
			sn = sm.sched.At(u[k-1]).VESigma()
		}
		// Predictor (reverse diffusion): x̃ ← x̃ + (σ_k² − σ_{k−1}²)s̃ + √(σ_k² − σ_{k−1}²)z;
		// the last one (σ_0 = 0) adds no noise and is Tweedie's x̂0.
		s, err := score(lv)
		if err != nil {
			return err
		}
		d := sk*sk - sn*sn
		for i, x := range sm.x {
			linop.Axpy(x, scalarOf[T](d), s[i])
			if k > 1 {
				sm.noise(i, z)
				linop.Axpy(x, scalarOf[T](math.Sqrt(d)), z)
			}
		}
		if err := sm.dc(sm.x, w(d), d); err != nil {
			return err
		}
		if k > 1 {
			// Corrector (Langevin at σ_{k−1}): ε = 2(snr‖z‖/‖s̃‖)²,
			// x̃ ← x̃ + εs̃ + √(2ε)z.
			lvn := sm.sched.At(u[k-1])
			s, err := score(lvn)
			if err != nil {
				return err
			}
			eps := make([]float64, len(sm.x))
			for i, x := range sm.x {
				sm.noise(i, z)
				gn := linop.Norm2(s[i])
				e := 0.0
				if gn > 0 {
					e = 2 * math.Pow(sm.cfg.SNR*linop.Norm2(z)/gn, 2)
				}
				eps[i] = e
				linop.Axpy(x, scalarOf[T](e), s[i])
				linop.Axpy(x, scalarOf[T](math.Sqrt(2*e)), z)
			}
			// Each image has its own ε: run data consistency per image.
			if err := sm.dcEach(eps, w); err != nil {
				return err
			}
		}
		sm.progress(nu-k+1, nu)
	}
	return nil
}

// dcEach is dc with a step of its own for each image (Langevin ε). MBIR
// uses the mean step of each sample's slices.
func (sm *sampler[T]) dcEach(step []float64, w func(float64) float64) error {
	if sm.mbir != nil {
		return sm.forSamples(func(k int) error {
			m := 0.0
			for j := 0; j < sm.S; j++ {
				m += step[k*sm.S+j]
			}
			m /= float64(sm.S)
			return sm.mbir[k].step(sm.x[k*sm.S:(k+1)*sm.S], w(m), m)
		})
	}
	return sm.forImages(func(i int) error {
		if wi := w(step[i]); wi != 0 {
			if err := sm.dcs[i].apply(sm.x[i], wi); err != nil {
				return fmt.Errorf("data consistency, slice %d: %w", i%sm.S, err)
			}
		}
		return nil
	})
}

// runDPS: ancestral DDPM steps with the gradient of ‖y − A x̂0‖.
func (sm *sampler[T]) runDPS() error {
	u := sm.grid()
	nu := len(u) - 1
	top := sm.sched.At(u[nu])
	sm.start(top.Alpha, top.Sigma)
	zeta := sm.cfg.Zeta * 1000 / float64(sm.cfg.Steps)
	z := make([]T, sm.n)
	for k := nu; k >= 1; k-- {
		lv, nx := sm.sched.At(u[k]), sm.sched.At(u[k-1])
		x0, err := sm.denoise(sm.x, 1, lv)
		if err != nil {
			return err
		}
		sm.nfe++
		// g = ∇_{x̂0}‖y − A x̂0‖ = −Aᴴr/‖r‖, r = y − A x̂0.
		g := make([][]T, len(sm.x))
		if err := sm.forImages(func(i int) error {
			g[i] = sm.dcs[i].normGrad(x0[i])
			return nil
		}); err != nil {
			return err
		}
		jg := g
		if sm.cfg.VJP == VJPFiniteDifference {
			// Jᵀg = Jg ≈ (x̂0(x + δg) − x̂0(x))/δ, δ = h‖x‖/‖g‖.
			xp := make([][]T, len(sm.x))
			deltas := make([]float64, len(sm.x))
			for i, x := range sm.x {
				xp[i] = append([]T(nil), x...)
				gn := linop.Norm2(g[i])
				if gn == 0 {
					continue
				}
				deltas[i] = sm.cfg.FDStep * max(linop.Norm2(x), 1e-6) / gn
				linop.Axpy(xp[i], scalarOf[T](deltas[i]), g[i])
			}
			xq, err := sm.denoise(xp, 1, lv)
			if err != nil {
				return err
			}
			sm.nfe++
			jg = make([][]T, len(sm.x))
			for i := range xq {
				jg[i] = make([]T, sm.n)
				if deltas[i] == 0 {
					continue
				}
				for p := range xq[i] {
					jg[i][p] = (xq[i][p] - x0[i][p]) * scalarOf[T](1/deltas[i])
				}
			}
		}
		// Ancestral step q(x′ | x, x̂0) between levels (α, σ) → (α′, σ′)
		// (Kingma et al., "Variational diffusion models", NeurIPS 2021):
		// α_{t|s} = α/α′, σ²_{t|s} = σ² − α²_{t|s}σ′²,
		// mean = (α_{t|s}σ′²/σ²)x + (α′σ²_{t|s}/σ²)x̂0, var = σ²_{t|s}σ′²/σ².
		ats := lv.Alpha / nx.Alpha
		s2 := lv.Sigma * lv.Sigma
		sts2 := max(0, s2-ats*ats*nx.Sigma*nx.Sigma)
		cx := ats * nx.Sigma * nx.Sigma / s2
		c0 := nx.Alpha * sts2 / s2
		sd := math.Sqrt(sts2 * nx.Sigma * nx.Sigma / s2)
		for i, x := range sm.x {
			sm.noise(i, z)
			for p := range x {
				x[p] = scalarOf[T](cx)*x[p] + scalarOf[T](c0)*x0[i][p] + scalarOf[T](sd)*z[p] - scalarOf[T](zeta)*jg[i][p]
			}
		}
		sm.progress(nu-k+1, nu)
	}
	return nil
}

func (sm *sampler[T]) result() *Result[T] {
	r := &Result[T]{Mean: make([][]T, sm.S), Var: make([][]float32, sm.S), MagStd: make([][]float32, sm.S),
		NFE: sm.nfe, Steps: StepsRun(sm.cfg.Steps, sm.cfg.T0)}
	for j := 0; j < sm.S; j++ {
		mean := make([]complex128, sm.n)
		for k := 0; k < sm.K; k++ {
			for p, v := range sm.x[k*sm.S+j] {
				mean[p] += toC128(v)
			}
		}
		m := make([]T, sm.n)
		for p := range mean {
			mean[p] /= complex(float64(sm.K), 0)
			m[p] = linop.FromComplex[T](mean[p])
		}
		r.Mean[j] = m
		v, ms := make([]float32, sm.n), make([]float32, sm.n)
		if sm.K > 1 {
			for p := range mean {
				var sv, sa, sa2 float64
				for k := 0; k < sm.K; k++ {
					c := toC128(sm.x[k*sm.S+j][p])
					d := c - mean[p]
					sv += real(d)*real(d) + imag(d)*imag(d)
					a := math.Hypot(real(c), imag(c))
					if channelsOf[T]() == 1 {
						a = real(c)
					}
					sa += a
					sa2 += a * a
				}
				kk := float64(sm.K)
				v[p] = float32(sv / (kk - 1))
				ma := sa / kk
				ms[p] = float32(math.Sqrt(max(0, (sa2-kk*ma*ma)/(kk-1))))
			}
		}
		r.Var[j], r.MagStd[j] = v, ms
	}
	if sm.cfg.KeepSamples {
		r.Samples = make([][][]T, sm.S)
		for j := range r.Samples {
			for k := 0; k < sm.K; k++ {
				r.Samples[j] = append(r.Samples[j], sm.x[k*sm.S+j])
			}
		}
	}
	return r
}

// parallel runs fn(0…n−1) on up to GOMAXPROCS goroutines and returns the
// first error.
func parallel(n int, fn func(i int) error) error {
	w := min(n, runtime.GOMAXPROCS(0))
	if w <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// sliceDC is the data-consistency machinery of one slice.
type sliceDC[T linop.Scalar] struct {
	a       linop.Op[T]
	y, ahy  []T
	normal  *linop.Normal[T]
	prox    *proxOp[T]
	cgIters int
	r       []T
	b       []T             // right-hand side, reused
	work    solve.CGWork[T] // CG's vectors, reused
}

func newSliceDC[T linop.Scalar](s Slice[T], cgIters int) *sliceDC[T] {
	d := &sliceDC[T]{a: s.A, y: s.Y, ahy: make([]T, s.A.InLen()), cgIters: cgIters, r: make([]T, s.A.OutLen())}
	s.A.Adjoint(d.ahy, s.Y)
	d.normal = linop.NewNormal(s.A)
	d.prox = &proxOp[T]{n: d.normal, tmp: make([]T, s.A.InLen())}
	return d
}

// apply replaces x by argmin ½‖z − x‖² + (w/2)‖Az − y‖², by CG on
// (I + wAᴴA)z = x + wAᴴy from x; w = +Inf projects onto {Az = y}:
// z = x + δ, δ the CG solution of AᴴAδ = Aᴴ(y − Ax) from 0 (the
// least-norm correction).
func (d *sliceDC[T]) apply(x []T, w float64) error {
	cfg := solve.CGConfig{MaxIter: d.cgIters, Tol: 1e-6}
	if math.IsInf(w, 1) {
		d.a.Apply(d.r, x)
		for i := range d.r {
			d.r[i] = d.y[i] - d.r[i]
		}
		g := make([]T, len(x))
		d.a.Adjoint(g, d.r)
		delta, _, err := solve.CG[T](d.normal, g, nil, cfg)
		if err != nil && !errors.Is(err, solve.ErrBreakdown) {
			return err
		}
		linop.Axpy(x, 1, delta)
		return nil
	}
	if d.b == nil {
		d.b = make([]T, len(x))
	}
	copy(d.b, x)
	linop.Axpy(d.b, scalarOf[T](w), d.ahy)
	d.prox.w = w
	// CG from x, in place (the iterate reached so far stands on breakdown).
	if _, err := solve.CGInPlace[T](d.prox, d.b, x, cfg, &d.work); err != nil && !errors.Is(err, solve.ErrBreakdown) {
		return err
	}
	return nil
}

// normGrad returns ∇_x‖y − Ax‖ = −Aᴴ(y − Ax)/‖y − Ax‖ (zero when the
// residual is).
func (d *sliceDC[T]) normGrad(x []T) []T {
	d.a.Apply(d.r, x)
	for i := range d.r {
		d.r[i] = d.y[i] - d.r[i]
	}
	g := make([]T, len(x))
	rn := linop.Norm2(d.r)
	if rn == 0 {
		return g
	}
	d.a.Adjoint(g, d.r)
	linop.Scale(g, scalarOf[T](-1/rn))
	return g
}

// proxOp is I + w·AᴴA.
type proxOp[T linop.Scalar] struct {
	n   linop.Op[T]
	w   float64
	tmp []T
}

func (p *proxOp[T]) InLen() int  { return p.n.InLen() }
func (p *proxOp[T]) OutLen() int { return p.n.InLen() }
func (p *proxOp[T]) Apply(dst, src []T) {
	p.n.Apply(dst, src)
	linop.Scale(dst, scalarOf[T](p.w))
	linop.Axpy(dst, 1, src)
}
func (p *proxOp[T]) Adjoint(dst, src []T) { p.Apply(dst, src) }

// scalarOf converts a real number to T.
func scalarOf[T linop.Scalar](a float64) T { return linop.FromComplex[T](complex(a, 0)) }

func toC128[T linop.Scalar](v T) complex128 {
	switch x := any(v).(type) {
	case complex64:
		return complex128(x)
	case float32:
		return complex(float64(x), 0)
	}
	panic("unreachable")
}

// randn fills x with independent standard normal values in every real
// coordinate (complex: real and imaginary parts each N(0, 1)), the noise of
// the forward process on the network's channels.
func randn[T linop.Scalar](rng *rand.Rand, x []T) {
	switch v := any(x).(type) {
	case []float32:
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	case []complex64:
		for i := range v {
			v[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
		}
	}
}

// toPlanar writes an image of T as channel planes scaled by s.
func toPlanar[T linop.Scalar](dst []float32, x []T, s float32) {
	switch v := any(x).(type) {
	case []float32:
		for i, a := range v {
			dst[i] = s * a
		}
	case []complex64:
		n := len(v)
		for i, a := range v {
			dst[i] = s * real(a)
			dst[n+i] = s * imag(a)
		}
	}
}

// fromPlanar reads an image of T from channel planes.
func fromPlanar[T linop.Scalar](dst []T, p []float32) {
	switch v := any(dst).(type) {
	case []float32:
		copy(v, p)
	case []complex64:
		n := len(v)
		for i := range v {
			v[i] = complex(p[i], p[n+i])
		}
	}
}
