//go:build cgo

package onnx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
)

// ErrNoCgo is returned by every call of a build without cgo.
var ErrNoCgo = errors.New("onnx: tweedie was built without cgo: the score-model runtime needs CGO_ENABLED=1")

// ErrModel reports a model that cannot be loaded or run.
var ErrModel = errors.New("score model")

var (
	envMu  sync.Mutex
	envLib string // the library ONNX Runtime's environment was loaded from
	cache  = map[string]*Model{}
)

// Runtime loads models with one configuration. Open it once per process
// (or per configuration); models are cached process-wide.
type Runtime struct {
	cfg Config
	lib string
	dev Device
	log zerolog.Logger
}

// Open loads ONNX Runtime's shared library (once per process) and returns
// a runtime for cfg, whose empty fields are filled from the environment
// (Config.ConfigFromEnv). A missing, wrong or different library is an
// error wrapping ErrLibrary.
func Open(cfg Config, log zerolog.Logger) (*Runtime, error) {
	cfg = cfg.ConfigFromEnv()
	dev, err := ParseDevice(cfg.Device)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if cfg.IntraOpThreads < 0 {
		return nil, fmt.Errorf("onnx: intra_op_threads = %d, want ≥ 0", cfg.IntraOpThreads)
	}
	if cfg.IntraOpThreads == 0 {
		// One thread per CPU this process may use (GOMAXPROCS follows the
		// affinity mask and the cgroup's CPU quota). ONNX Runtime's own
		// default counts physical cores as its cpuinfo sees them, and on
		// the 2-vCPU virtual machines here it ran one thread: the CT prior
		// at 256², batch 10, 178 ms per image against 131 ms with two
		// (medians of interleaved rounds of BenchmarkShippedCTBatch,
		// docs/benchmarks.md).
		cfg.IntraOpThreads = goruntime.GOMAXPROCS(0)
	}
	lib, err := cfg.LibraryPath()
	if err != nil {
		return nil, err
	}
	envMu.Lock()
	defer envMu.Unlock()
	if ort.IsInitialized() {
		if envLib != lib {
			return nil, fmt.Errorf("%w: ONNX Runtime is already loaded from %s in this process; %s cannot be loaded as well", ErrLibrary, envLib, lib)
		}
	} else {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			return nil, fmt.Errorf("%w: cannot load %s: %v (want libonnxruntime.so.1 of ONNX Runtime 1.24 or newer for %s; scripts/install-onnxruntime.sh installs 1.30.0)",
				ErrLibrary, lib, err, "linux/amd64")
		}
		envLib = lib
		log.Info().Str("library", lib).Str("version", ort.GetVersion()).Msg("ONNX Runtime loaded")
	}
	return &Runtime{cfg: cfg, lib: lib, dev: dev, log: log}, nil
}

// Version is the loaded ONNX Runtime's version.
func (r *Runtime) Version() string { return ort.GetVersion() }

// Config is the runtime's configuration after defaults.
func (r *Runtime) Config() Config { return r.cfg }

// ModelsDir is the folder default models are looked up in.
func (r *Runtime) ModelsDir() string {
	if r.cfg.Models != "" {
		return r.cfg.Models
	}
	return "models"
}

// Model is a loaded score model: an ONNX Runtime session and its card.
type Model struct {
	card     *Card
	path     string
	provider string
	param    diffusion.Parameterisation
	sched    *diffusion.Schedule
	sess     *ort.DynamicAdvancedSession
	mu       sync.Mutex // one Run at a time: ONNX Runtime already uses every core
}

// Card is the model's card.
func (m *Model) Card() *Card { return m.card }

// Provider is the execution provider the session runs on (CPU, CUDA or
// TensorRT).
func (m *Model) Provider() string { return m.provider }

// Path is the .onnx file.
func (m *Model) Path() string { return m.path }

// Load loads a model from its .onnx file or its card (.yaml), checks it
// against the card and runs a probe evaluation. A model already loaded with
// the same device and threads is returned from the cache.
func (r *Runtime) Load(path string) (*Model, error) {
	var card *Card
	var err error
	if strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml") {
		card, err = ReadCard(path)
	} else {
		if _, serr := os.Stat(path); serr != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrModel, path, serr)
		}
		card, err = ReadCard(CardPathFor(path))
	}
	if err != nil {
		return nil, err
	}
	mp, err := filepath.Abs(card.ModelPath())
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s|%s|%d", mp, r.dev, r.cfg.IntraOpThreads)
	envMu.Lock()
	defer envMu.Unlock()
	if m, ok := cache[key]; ok {
		return m, nil
	}
	if _, err := os.Stat(mp); err != nil {
		return nil, fmt.Errorf("%w %s (card %s): %v", ErrModel, mp, card.Path(), err)
	}
	if err := checkGraph(mp, card); err != nil {
		return nil, err
	}
	m := &Model{card: card, path: mp}
	m.param, _ = diffusion.ParseParameterisation(card.Parameterisation)
	m.sched, _ = card.schedule()
	if err := r.openSession(m); err != nil {
		return nil, err
	}
	if err := m.probe(); err != nil {
		m.sess.Destroy()
		return nil, err
	}
	cache[key] = m
	r.log.Info().Str("model", card.Name).Str("file", mp).Str("provider", m.provider).
		Str("parameterisation", card.Parameterisation).Str("schedule", card.Schedule.Kind).Msg("score model loaded")
	return m, nil
}

// checkGraph compares the graph's inputs and outputs with the card.
func checkGraph(path string, c *Card) error {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("%w %s: not a readable ONNX model: %v", ErrModel, path, err)
	}
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	find := func(list []ort.InputOutputInfo, name string) *ort.InputOutputInfo {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	names := func(list []ort.InputOutputInfo) string {
		var s []string
		for _, v := range list {
			s = append(s, fmt.Sprintf("%s %v", v.Name, v.Dimensions))
		}
		return strings.Join(s, ", ")
	}
	checkImage := func(what string, v *ort.InputOutputInfo, ch int) {
		if v.OrtValueType != ort.ONNXTypeTensor || v.DataType != ort.TensorElementDataTypeFloat {
			bad("%s %q is not a float32 tensor", what, v.Name)
			return
		}
		d := v.Dimensions
		if len(d) != 4 {
			bad("%s %q has shape %v, want [batch, channels, rows, cols]", what, v.Name, d)
			return
		}
		if d[1] >= 0 && int(d[1]) != ch {
			bad("%s %q has %d channels, the card says %d", what, v.Name, d[1], ch)
		}
		for _, s := range c.Sizes {
			if (d[2] >= 0 && int(d[2]) != s[0]) || (d[3] >= 0 && int(d[3]) != s[1]) {
				bad("%s %q is fixed at %d×%d, the card lists size %d×%d", what, v.Name, d[2], d[3], s[0], s[1])
			}
		}
		if c.Batch > 0 && d[0] >= 0 && int(d[0]) != c.Batch {
			bad("%s %q has batch %d, the card says %d", what, v.Name, d[0], c.Batch)
		}
	}
	if len(ins) != 2 {
		bad("the graph has %d inputs (%s), want 2: image and time", len(ins), names(ins))
	}
	if v := find(ins, c.Inputs.Image); v == nil {
		bad("no input %q (inputs: %s)", c.Inputs.Image, names(ins))
	} else {
		checkImage("input", v, c.Channels)
	}
	if v := find(ins, c.Inputs.Time); v == nil {
		bad("no input %q (inputs: %s)", c.Inputs.Time, names(ins))
	} else if v.DataType != ort.TensorElementDataTypeFloat || len(v.Dimensions) != 1 {
		bad("time input %q is %v of %v, want a float32 vector [batch]", v.Name, v.DataType, v.Dimensions)
	}
	if v := find(outs, c.Output); v == nil {
		bad("no output %q (outputs: %s)", c.Output, names(outs))
	} else {
		checkImage("output", v, c.OutputChannels)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s disagrees with its card %s: %s", ErrCard, path, c.Path(), strings.Join(errs, "; "))
	}
	return nil
}

// openSession creates the session on the configured device: auto tries
// TensorRT, then CUDA, then the CPU (with a warning); cuda fails if CUDA
// cannot be used.
func (r *Runtime) openSession(m *Model) error {
	var tries []string
	switch r.dev.Kind {
	case "cpu":
		tries = []string{"CPU"}
	case "cuda":
		tries = []string{"CUDA"}
	default:
		tries = []string{"TensorRT", "CUDA", "CPU"}
	}
	var reasons []string
	for _, p := range tries {
		sess, err := r.newSession(m, p)
		if err == nil {
			m.sess, m.provider = sess, p
			if p == "CPU" && len(reasons) > 0 {
				r.log.Warn().Str("model", m.card.Name).Str("why", strings.Join(reasons, "; ")).
					Msg("device auto: no GPU execution provider could be used, running on the CPU")
			}
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", p, err))
		r.log.Debug().Str("provider", p).Err(err).Msg("execution provider not available")
	}
	return fmt.Errorf("%w %s: no execution provider for device %s: %s", ErrModel, m.path, r.dev, strings.Join(reasons, "; "))
}

func (r *Runtime) newSession(m *Model, provider string) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if r.cfg.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(r.cfg.IntraOpThreads); err != nil {
			return nil, err
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	dev := map[string]string{"device_id": fmt.Sprint(r.dev.ID)}
	switch provider {
	case "CUDA":
		o, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return nil, err
		}
		defer o.Destroy()
		if err := o.Update(dev); err != nil {
			return nil, err
		}
		if err := opts.AppendExecutionProviderCUDA(o); err != nil {
			return nil, err
		}
	case "TensorRT":
		o, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return nil, err
		}
		defer o.Destroy()
		if err := o.Update(dev); err != nil {
			return nil, err
		}
		if err := opts.AppendExecutionProviderTensorRT(o); err != nil {
			return nil, err
		}
	}
	return ort.NewDynamicAdvancedSession(m.path, []string{m.card.Inputs.Image, m.card.Inputs.Time}, []string{m.card.Output}, opts)
}

// probe evaluates one image of the card's first size at mid-schedule and
// checks the output.
func (m *Model) probe() error {
	s := m.card.Sizes[0]
	d := &Sized{m: m, rows: s[0], cols: s[1]}
	n := d.Info().ImageLen()
	x := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	out := make([]float32, n)
	if err := d.Denoise(context.Background(), out, x, 1, m.sched.At(0.5)); err != nil {
		return fmt.Errorf("%w %s: probe evaluation failed: %w", ErrModel, m.path, err)
	}
	return nil
}

// Denoiser returns the model as a diffusion.Denoiser for rows×cols images,
// which the card must list.
func (m *Model) Denoiser(rows, cols int) (*Sized, error) {
	if !m.card.AcceptsSize(rows, cols) {
		return nil, fmt.Errorf("%w %s: images of %d×%d, the card accepts %v", ErrModel, m.card.Name, rows, cols, m.card.Sizes)
	}
	return &Sized{m: m, rows: rows, cols: cols}, nil
}

// Sized is a Model at one image size; it implements diffusion.Denoiser.
type Sized struct {
	m          *Model
	rows, cols int
}

// Info implements diffusion.Denoiser.
func (d *Sized) Info() diffusion.ModelInfo {
	c := d.m.card
	return diffusion.ModelInfo{Name: c.Name, Modality: c.Modality, Channels: c.Channels, Rows: d.rows, Cols: d.cols,
		Schedule: d.m.sched, MaxBatch: c.Batch}
}

// Denoise implements diffusion.Denoiser: it runs the network on batches of
// the card's size and converts the prediction to Tweedie's x̂0.
func (d *Sized) Denoise(ctx context.Context, dst, x []float32, n int, lv diffusion.Level) error {
	c := d.m.card
	il := c.Channels * d.rows * d.cols
	if len(x) != n*il || len(dst) != n*il {
		return fmt.Errorf("%w %s: Denoise: %d and %d values for %d images of %d", ErrModel, c.Name, len(dst), len(x), n, il)
	}
	if err := diffusion.CheckFinite(fmt.Sprintf("input of model %s", c.Name), x); err != nil {
		return err
	}
	bs := n
	if c.Batch > 0 {
		bs = c.Batch
	}
	ol := c.OutputChannels * d.rows * d.cols
	for b0 := 0; b0 < n; b0 += bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		nb := min(bs, n-b0)
		in := x[b0*il : (b0+nb)*il]
		out := dst[b0*il : (b0+nb)*il]
		if c.Batch > 0 && nb < bs {
			// A fixed batch: pad with copies of the first image.
			pad := make([]float32, bs*il)
			copy(pad, in)
			for i := nb; i < bs; i++ {
				copy(pad[i*il:(i+1)*il], in[:il])
			}
			in = pad
		}
		rb := len(in) / il
		raw := out
		if c.OutputChannels != c.Channels || rb != nb {
			raw = make([]float32, rb*ol)
		}
		if err := d.run(in, raw, rb, lv.Input); err != nil {
			return err
		}
		if err := diffusion.CheckFinite(fmt.Sprintf("output of model %s (%s at time input %g)", c.Name, c.Output, lv.Input), raw); err != nil {
			return fmt.Errorf("%w %s: the network returned non-finite values: %w", ErrModel, c.Name, err)
		}
		if &raw[0] != &out[0] {
			for i := 0; i < nb; i++ {
				copy(out[i*il:(i+1)*il], raw[i*ol:i*ol+il])
			}
		}
		if err := d.m.param.ToX0(out, x[b0*il:(b0+nb)*il], lv); err != nil {
			return err
		}
	}
	return nil
}

func (d *Sized) run(in, out []float32, nb int, t float64) error {
	c := d.m.card
	it, err := ort.NewTensor(ort.NewShape(int64(nb), int64(c.Channels), int64(d.rows), int64(d.cols)), in)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrModel, c.Name, err)
	}
	defer it.Destroy()
	ts := make([]float32, nb)
	for i := range ts {
		ts[i] = float32(t)
	}
	tt, err := ort.NewTensor(ort.NewShape(int64(nb)), ts)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrModel, c.Name, err)
	}
	defer tt.Destroy()
	ot, err := ort.NewTensor(ort.NewShape(int64(nb), int64(c.OutputChannels), int64(d.rows), int64(d.cols)), out)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrModel, c.Name, err)
	}
	defer ot.Destroy()
	d.m.mu.Lock()
	err = d.m.sess.Run([]ort.Value{it, tt}, []ort.Value{ot})
	d.m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrModel, c.Name, err)
	}
	return nil
}
