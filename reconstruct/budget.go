package reconstruct

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
)

// A time budget per slice (the parameter `budget`, e.g. budget=8s): the
// diffusion reconstructors measure what a network evaluation and a
// data-consistency step cost on the hardware at hand, after the initial
// estimate is made, and pick the most expensive point of the measured
// quality–time frontier (docs/results.md, tools/eval/frontier.py) that fits
// what is left of the budget. The same rule buys more quality on a GPU.

// preset is one point of the frontier: nfe steps of the full schedule, a
// CCDF start at t0 from the classical initial estimate (Chung, Sim & Ye,
// CVPR 2022), DDS's η, and the mean of samples antithetic samples.
type preset struct {
	nfe     int
	t0      float64
	samples int
	eta     float64
}

// evals is the network evaluations per slice.
func (p preset) evals() int { return diffusion.StepsRun(p.nfe, p.t0) * p.samples }

// Frontiers, cheapest first; each point measured better than the one before
// on the validation sets (docs/results.md, tools/eval/frontier.py).
var frontier = map[string][]preset{
	// More steps beat more samples: a second antithetic pair added nothing
	// measurable at 20 and 40 steps (ITK T1 4×: 34.83 against 34.83 dB,
	// 35.53 against 35.52).
	"MR": {{50, 0.2, 2, 0.5}, {100, 0.2, 2, 0.5}, {200, 0.2, 2, 0.5}, {400, 0.2, 2, 0.5}},
	// CT: η by the number of views, ctFrontierEta. 30 steps sits between
	// 20 and 40 because that is what 12 s per 256² slice buys on a 2-core
	// CPU (v2 prior, 8 views, η = 0.85, dB: body 30.90 / 31.23 / 31.40 and
	// chest 28.36 / 28.66 / 28.84 at 20 / 30 / 40 steps).
	"CT": {{50, 0.2, 2, 0.5}, {100, 0.2, 2, 0.5}, {150, 0.2, 2, 0.5}, {200, 0.2, 2, 0.5}, {400, 0.2, 2, 0.5}},
}

// ctFrontierEta is DDS's η for the CT frontier points: more stochastic
// (0.85) for very sparse views, where the data leave most of the image to the
// prior, 0.5 from 16 views on. Chosen on TRAINING slices with the v2 prior
// (tools/eval/frontier.py cases tune-lungdx-*, tune-abdomen-*; 20 steps of
// an antithetic pair, chest / abdomen, dB): 8 views 29.31 / 27.32 with
// η = 0.85 against 28.89 / 26.57 with 0.5 (at 40 steps 29.96 / 28.46
// against 29.45 / 27.48; η = 1: 29.01 / 27.71, η = 0.2: 28.11 on the chest);
// 16 views 34.15 / 33.75 against 34.12 / 34.05; 32 views 37.99 / 36.40
// against 38.89 / 37.15.
func ctFrontierEta(views int) float64 {
	if views < 16 {
		return 0.85
	}
	return 0.5
}

// DefaultBudget is the budget per slice of dds when no sampler setting is
// given (nfe, samples, t0, antithetic, init): measured 1.9–2.2× BART's
// ecalib + pics -l1 (one thread) on 256² 8-coil slices on a 2-core CPU
// server, under the 5× of issue 17 (docs/benchmarks.md).
const DefaultBudget = 12 * time.Second

// budgetInit is the initial estimate the frontier's CCDF starts from.
var budgetInit = map[string]string{"MR": "l1-wavelet", "CT": "admm-tv"}

// ctInitIter is the ADMM-TV start's iteration count under a budget
// (init_iter; 0: ADMMTV's admmTVIter, 100). CCDF re-noises the start at t0 = 0.2, and
// on TRAINING slices 30 iterations gave what 100 give (v2.1 CT prior, 30
// steps, dB, 30 against 100 iterations; tools/eval/frontier.py tune-*
// cases: chest / abdomen 32 views 39.77 / 38.11 against 39.78 / 38.12,
// 8 views 30.22 / 28.33 against 30.22 / 28.30). The start's cost grows
// with the views, so from 16 views on the budget takes 30 and spends the
// time on steps (chest 32 views: 20 steps instead of 10 at 12 s); at 8
// views the start is cheap, the saving bought no step here, and the NEMA
// chest slice lost 0.15 dB with 30: 100 stay.
func ctInitIter(views int) int {
	if views < 16 {
		return 0
	}
	return 30
}

// budgetSafety is the share of the remaining budget that the predicted
// cost may fill: the prediction is from one timed call, and the machine may
// be shared.
const budgetSafety = 0.85

// parseBudget reads a duration ("8s", "1m30s") or plain seconds ("8").
func parseBudget(s string) (time.Duration, error) {
	if s == "" || s == "0" || s == "off" || s == "none" {
		return 0, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		s = strconv.FormatFloat(v, 'f', -1, 64) + "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("budget=%q: want a duration per slice such as 8s or 1m, or off", s)
	}
	return d, nil
}

// budgetKeys are the parameters a budget chooses; they may not be set with it.
var budgetKeys = []string{"nfe", "samples", "t0", "antithetic", "init"}

// timeNormal measures one application of AᴴA on one image of op.
func timeNormal[T linop.Scalar](op linop.Op[T]) time.Duration {
	x := make([]T, op.InLen())
	for i := range x {
		x[i] = T(1)
	}
	y := make([]T, op.OutLen())
	t0 := time.Now()
	op.Apply(y, x)
	op.Adjoint(x, y)
	return time.Since(t0)
}

// fitBudget chooses nfe, t0 and samples for a budget per slice. spent is the
// time since the reconstruction began (data checks, calibration, initial
// estimates: already paid), slices the number of slices, dc the time of one
// AᴴA on one image, views the CT projection count (0 for MR).
func (q *diffParams) fitBudget(ctx context.Context, den diffusion.Denoiser, modality string, slices, views int, spent, dc time.Duration, log zerolog.Logger) error {
	perImage, probeEvals, err := diffusion.TimeEvaluation(ctx, den, min(slices, 4))
	if err != nil {
		return fmt.Errorf("budget: timing the network: %w", err)
	}
	total := time.Duration(slices) * q.budget
	left := total - spent - time.Duration(probeEvals)*perImage
	par := float64(min(runtime.GOMAXPROCS(0), 2*slices))
	cost := func(p preset) time.Duration {
		steps := diffusion.StepsRun(p.nfe, p.t0)
		net := time.Duration(p.evals()*slices) * perImage
		// Data consistency: cg_iters + 1 applications of AᴴA per image and
		// step, images in parallel.
		dcs := time.Duration(float64(steps*p.samples*slices*(q.cgIters+1)) * float64(dc) / par)
		return net + dcs
	}
	room := time.Duration(budgetSafety * float64(left))
	pts := frontier[modality]
	choice := pts[0]
	fits := false
	for _, p := range pts {
		if cost(p) <= room {
			choice, fits = p, true
		}
	}
	if !fits {
		// Fewer steps of the cheapest point, down to one.
		c := pts[0]
		per := cost(c) / time.Duration(diffusion.StepsRun(c.nfe, c.t0))
		steps := 1
		if per > 0 {
			steps = max(1, int(math.Floor(float64(room)/float64(per))))
		}
		choice = preset{nfe: max(1, int(math.Floor(float64(steps)/c.t0))), t0: c.t0, samples: c.samples, eta: c.eta}
		for diffusion.StepsRun(choice.nfe, choice.t0) > steps && choice.nfe > 1 {
			choice.nfe--
		}
		log.Warn().Str("budget", q.budget.String()).Dur("left_per_slice", left/time.Duration(slices)).
			Int("steps", diffusion.StepsRun(choice.nfe, choice.t0)).
			Msg("budget: below the cheapest frontier point; running fewer steps of it")
	}
	// The sampler keeps to the whole budget when the machine turns slower
	// than the timed call said (diffusion.Config.Deadline).
	q.deadline = q.start.Add(total)
	q.nfe, q.t0, q.samples, q.antithetic = choice.nfe, choice.t0, choice.samples, choice.samples%2 == 0
	if modality == "CT" && views > 0 {
		choice.eta = ctFrontierEta(views)
	}
	if !q.etaGiven {
		q.eta = choice.eta
	}
	ev := log.Info()
	if modality == "CT" && q.init == "admm-tv" {
		ev = ev.Int("admm_tv_iterations", cmp.Or(q.initIter, admmTVIter)) // the start, already made
	}
	ev.Str("budget_per_slice", q.budget.String()).Dur("spent", spent.Round(time.Millisecond)).
		Dur("network_per_image", perImage.Round(time.Microsecond)).Dur("data_consistency_per_image", dc.Round(time.Microsecond)).
		Int("nfe", q.nfe).Float64("t0", q.t0).Int("samples", q.samples).Float64("eta", q.eta).Int("evaluations_per_slice", choice.evals()).
		Dur("predicted", cost(choice).Round(time.Millisecond)).Msg("budget: sampler settings chosen")
	return nil
}

func budgetConflict(given func(string) bool) error {
	var set []string
	for _, k := range budgetKeys {
		if given(k) {
			set = append(set, k)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("parameters: budget chooses %s; set either budget or %s", strings.Join(budgetKeys, ", "), strings.Join(set, ", "))
	}
	return nil
}
