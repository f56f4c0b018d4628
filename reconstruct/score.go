package reconstruct

import (
	"errors"
	"sync"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// Env is what a reconstruction gets from its caller rather than from the
// process: the log its progress goes to and the score-model runtime of the
// diffusion reconstructors (nil where none is needed: the classical ones
// never touch it).
type Env struct {
	Log   zerolog.Logger
	Score *ScoreRuntime
}

// ScoreRuntime is the diffusion reconstructors' score-model runtime: ONNX
// Runtime with the configuration's onnx section (fields left empty come
// from the environment: ONNXRUNTIME_SHARED_LIBRARY_PATH,
// TWEEDIE_ONNX_DEVICE, TWEEDIE_ONNX_THREADS, TWEEDIE_MODELS), opened at its
// first use and shared by every reconstruction after. The command that
// reads the configuration makes one and passes it in Env; the package
// holds none of its own.
type ScoreRuntime struct {
	cfg onnx.Config
	mu  sync.Mutex
	rt  *onnx.Runtime
}

// NewScoreRuntime prepares a runtime; nothing is loaded until Open.
func NewScoreRuntime(cfg onnx.Config) *ScoreRuntime { return &ScoreRuntime{cfg: cfg} }

// ErrNoScoreRuntime is returned by Open on a nil ScoreRuntime.
var ErrNoScoreRuntime = errors.New("no score-model runtime was given (the diffusion reconstructors need one)")

// Open returns the runtime, loading ONNX Runtime on the first call.
func (s *ScoreRuntime) Open(log zerolog.Logger) (*onnx.Runtime, error) {
	if s == nil {
		return nil, ErrNoScoreRuntime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt != nil {
		return s.rt, nil
	}
	rt, err := onnx.Open(s.cfg, log)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	return rt, nil
}
