package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultLibrary is where scripts/install-onnxruntime.sh installs ONNX
// Runtime.
const DefaultLibrary = "/usr/local/lib/tweedie/libonnxruntime.so.1"

// PackagedLibrary is where the Debian package (scripts/build-deb.sh) puts
// it; the default when DefaultLibrary is absent.
const PackagedLibrary = "/usr/lib/tweedie/libonnxruntime.so.1"

// Environment variables read by ConfigFromEnv.
const (
	EnvLibrary = "ONNXRUNTIME_SHARED_LIBRARY_PATH"
	EnvDevice  = "TWEEDIE_ONNX_DEVICE"
	EnvThreads = "TWEEDIE_ONNX_THREADS"
	EnvModels  = "TWEEDIE_MODELS"
)

// ErrLibrary reports a missing or unusable ONNX Runtime library.
var ErrLibrary = errors.New("ONNX Runtime library")

// Config configures the runtime; the YAML keys are those of the
// configuration file's onnx section.
type Config struct {
	// Library is the absolute path of libonnxruntime.so.1 (default: the
	// environment's ONNXRUNTIME_SHARED_LIBRARY_PATH, else DefaultLibrary).
	// The library's default name, onnxruntime.so, does not match the
	// file's, so the path is always given.
	Library string `yaml:"library"`
	// Device is auto (default), cpu, or cuda[:N].
	Device string `yaml:"device"`
	// IntraOpThreads is ONNX Runtime's intra-op thread count (0: one per
	// CPU the process may use, runtime.GOMAXPROCS).
	IntraOpThreads int `yaml:"intra_op_threads"`
	// Models is the folder of models and their cards (default: the
	// environment's TWEEDIE_MODELS, else ./models).
	Models string `yaml:"models"`
}

// ConfigFromEnv fills the fields left empty from the environment.
func (c Config) ConfigFromEnv() Config {
	if c.Library == "" {
		c.Library = os.Getenv(EnvLibrary)
	}
	if c.Device == "" {
		c.Device = os.Getenv(EnvDevice)
	}
	if c.IntraOpThreads == 0 {
		if n, err := strconv.Atoi(os.Getenv(EnvThreads)); err == nil {
			c.IntraOpThreads = n
		}
	}
	if c.Models == "" {
		c.Models = os.Getenv(EnvModels)
	}
	return c
}

// LibraryPath resolves and checks the library's path: it must be absolute
// and exist.
func (c Config) LibraryPath() (string, error) {
	p := c.Library
	src := "the configuration's onnx.library"
	if p == "" {
		p, src = os.Getenv(EnvLibrary), EnvLibrary
	}
	if p == "" {
		p, src = DefaultLibrary, "the default path"
		if _, err := os.Stat(p); err != nil {
			if _, err := os.Stat(PackagedLibrary); err == nil {
				p, src = PackagedLibrary, "the Debian package's path"
			}
		}
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: %q (from %s) is not an absolute path", ErrLibrary, p, src)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s (from %s): %v; run scripts/install-onnxruntime.sh or set %s", ErrLibrary, p, src, err, EnvLibrary)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%w: %s (from %s) is a folder, want libonnxruntime.so.1", ErrLibrary, p, src)
	}
	return p, nil
}

// Device is a parsed Config.Device.
type Device struct {
	Kind string // auto, cpu or cuda
	ID   int    // CUDA device
}

func (d Device) String() string {
	if d.Kind == "cuda" {
		return fmt.Sprintf("cuda:%d", d.ID)
	}
	return d.Kind
}

// ParseDevice reads auto, cpu, cuda or cuda:N ("" is auto).
func ParseDevice(s string) (Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "auto":
		return Device{Kind: "auto"}, nil
	case s == "cpu":
		return Device{Kind: "cpu"}, nil
	case s == "cuda" || s == "gpu":
		return Device{Kind: "cuda"}, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[5:])
		if err != nil || n < 0 {
			return Device{}, fmt.Errorf("device %q: want cuda:N with N ≥ 0", s)
		}
		return Device{Kind: "cuda", ID: n}, nil
	}
	return Device{}, fmt.Errorf("device %q: want auto, cpu or cuda[:N]", s)
}
