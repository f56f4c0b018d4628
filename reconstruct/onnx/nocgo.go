//go:build !cgo

package onnx

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
)

// ErrNoCgo is returned by every call of a build without cgo.
var ErrNoCgo = errors.New("onnx: tweedie was built without cgo: the score-model runtime needs CGO_ENABLED=1")

// ErrModel reports a model that cannot be loaded or run.
var ErrModel = errors.New("score model")

// Runtime is unavailable without cgo.
type Runtime struct{ cfg Config }

// Open returns ErrNoCgo.
func Open(cfg Config, log zerolog.Logger) (*Runtime, error) { return nil, ErrNoCgo }

func (r *Runtime) Version() string                  { return "" }
func (r *Runtime) Config() Config                   { return r.cfg }
func (r *Runtime) ModelsDir() string                { return "models" }
func (r *Runtime) Load(path string) (*Model, error) { return nil, ErrNoCgo }

// Model is unavailable without cgo.
type Model struct{ card *Card }

func (m *Model) Card() *Card                             { return m.card }
func (m *Model) Provider() string                        { return "" }
func (m *Model) Path() string                            { return "" }
func (m *Model) Denoiser(rows, cols int) (*Sized, error) { return nil, ErrNoCgo }

// Sized is unavailable without cgo.
type Sized struct{}

func (d *Sized) Info() diffusion.ModelInfo { return diffusion.ModelInfo{} }
func (d *Sized) Denoise(ctx context.Context, dst, x []float32, n int, lv diffusion.Level) error {
	return ErrNoCgo
}
