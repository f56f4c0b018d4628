package onnx

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
)

// ErrCard reports a model card that is missing, malformed, or disagrees
// with its model.
var ErrCard = errors.New("model card")

// Card is a model card: the YAML beside each .onnx (docs/models.md).
type Card struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// File is the .onnx file, relative to the card (default: the card's
	// base name with .onnx).
	File string `yaml:"file"`
	// Modality is MR or CT: the data the model is a prior for.
	Modality string `yaml:"modality"`
	// Parameterisation is eps, score or x0.
	Parameterisation string        `yaml:"parameterisation"`
	Schedule         ScheduleCard  `yaml:"schedule"`
	Inputs           InputsCard    `yaml:"inputs"`
	Output           string        `yaml:"output"`
	Channels         int           `yaml:"channels"`
	OutputChannels   int           `yaml:"output_channels"`
	Sizes            [][2]int      `yaml:"sizes"`
	Batch            int           `yaml:"batch"`
	Normalisation    Normalisation `yaml:"normalisation"`
	TrainingData     string        `yaml:"training_data"`
	Licence          string        `yaml:"licence"`
	// Default marks the model --reconstructor dds picks for its modality
	// when no model is named.
	Default bool `yaml:"default"`

	path string
}

// ScheduleCard is the noise schedule the model was trained with.
type ScheduleCard struct {
	Kind     string  `yaml:"kind"` // vp or ve
	BetaMin  float64 `yaml:"beta_min"`
	BetaMax  float64 `yaml:"beta_max"`
	Steps    int     `yaml:"steps"`
	SigmaMin float64 `yaml:"sigma_min"`
	SigmaMax float64 `yaml:"sigma_max"`
}

// InputsCard names the graph's inputs.
type InputsCard struct {
	Image string `yaml:"image"`
	Time  string `yaml:"time"`
}

// Normalisation maps the physical image u to the network's x.
//
//   - none: x = u.
//   - percentile: x = u·Value/q, q the Percentile-th percentile of |u| of
//     the initial estimate (e.g. 99 → 1), undone after sampling.
//   - hu-window (CT): x = (HU − Low)/(High − Low).
type Normalisation struct {
	Method     string  `yaml:"method"`
	Percentile float64 `yaml:"percentile"`
	Value      float64 `yaml:"value"`
	Low        float64 `yaml:"low"`
	High       float64 `yaml:"high"`
}

// Path is where the card was read from.
func (c *Card) Path() string { return c.path }

// ModelPath is the .onnx file the card describes.
func (c *Card) ModelPath() string {
	f := c.File
	if f == "" {
		f = strings.TrimSuffix(filepath.Base(c.path), filepath.Ext(c.path)) + ".onnx"
	}
	if filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(filepath.Dir(c.path), f)
}

// CardPathFor returns the card beside an .onnx file (x.onnx → x.yaml).
func CardPathFor(onnxPath string) string {
	return strings.TrimSuffix(onnxPath, filepath.Ext(onnxPath)) + ".yaml"
}

// ReadCard reads and validates a card. Unknown keys are errors (a typo
// must not silently select a default).
func ReadCard(path string) (*Card, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist (every model needs its card beside it; see docs/models.md)", ErrCard, path)
		}
		return nil, fmt.Errorf("%w: %v", ErrCard, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	c := &Card{}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCard, path, err)
	}
	c.path = path
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate reports every problem of the card at once.
func (c *Card) Validate() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if c.Name == "" {
		bad("name is empty")
	}
	if c.Modality != "MR" && c.Modality != "CT" {
		bad("modality %q: want MR or CT", c.Modality)
	}
	if _, err := diffusion.ParseParameterisation(c.Parameterisation); err != nil {
		bad("%v", err)
	}
	if _, err := c.schedule(); err != nil {
		bad("%v", err)
	}
	if c.Inputs.Image == "" || c.Inputs.Time == "" {
		bad("inputs.image and inputs.time must name the graph's inputs")
	}
	if c.Output == "" {
		bad("output must name the graph's output")
	}
	if c.Channels != 1 && c.Channels != 2 {
		bad("channels = %d: want 2 (real and imaginary, complex MR) or 1 (CT or magnitude)", c.Channels)
	}
	if c.OutputChannels == 0 {
		c.OutputChannels = c.Channels
	}
	if c.OutputChannels != c.Channels && c.OutputChannels != 2*c.Channels {
		bad("output_channels = %d: want channels (%d) or twice that (learned variance; the first half is used)", c.OutputChannels, c.Channels)
	}
	if len(c.Sizes) == 0 {
		bad("sizes is empty: list the accepted [rows, cols]")
	}
	for _, s := range c.Sizes {
		if s[0] < 2 || s[1] < 2 || s[0] > 8192 || s[1] > 8192 {
			bad("size %v out of range", s)
		}
	}
	if c.Batch < 0 {
		bad("batch = %d: want 0 (any) or a fixed batch size", c.Batch)
	}
	switch c.Normalisation.Method {
	case "", "none":
	case "percentile":
		if !(c.Normalisation.Percentile > 0 && c.Normalisation.Percentile <= 100) || !(c.Normalisation.Value > 0) {
			bad("normalisation percentile: want 0 < percentile ≤ 100 and value > 0")
		}
	case "hu-window":
		if !(c.Normalisation.High > c.Normalisation.Low) {
			bad("normalisation hu-window: want high > low")
		}
		if c.Modality != "CT" {
			bad("normalisation hu-window is for CT models")
		}
	default:
		bad("normalisation method %q: want none, percentile or hu-window", c.Normalisation.Method)
	}
	if c.Channels == 2 && c.Modality == "CT" {
		bad("a CT model has 1 channel")
	}
	if strings.TrimSpace(c.TrainingData) == "" {
		bad("training_data is empty: say what the model was trained on")
	}
	if strings.TrimSpace(c.Licence) == "" {
		bad("licence is empty")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w %s: %s", ErrCard, c.path, strings.Join(errs, "; "))
	}
	return nil
}

func (c *Card) schedule() (*diffusion.Schedule, error) {
	s := c.Schedule
	switch s.Kind {
	case "vp":
		return diffusion.NewVP(s.BetaMin, s.BetaMax, s.Steps)
	case "ve":
		return diffusion.NewVE(s.SigmaMin, s.SigmaMax)
	}
	return nil, fmt.Errorf("schedule.kind %q: want vp or ve", s.Kind)
}

// AcceptsSize reports whether the card lists rows×cols.
func (c *Card) AcceptsSize(rows, cols int) bool {
	for _, s := range c.Sizes {
		if s[0] == rows && s[1] == cols {
			return true
		}
	}
	return false
}

// FitSize returns the listed size that holds a rows×cols image with the
// least area (ties: fewest rows), and whether there is one: the canvas an
// image is padded to (diffusion.Pad) when the card does not list its size.
func (c *Card) FitSize(rows, cols int) (r, cl int, ok bool) {
	best := -1
	for _, s := range c.Sizes {
		if s[0] < rows || s[1] < cols {
			continue
		}
		if a := s[0] * s[1]; best < 0 || a < best || (a == best && s[0] < r) {
			best, r, cl = a, s[0], s[1]
		}
	}
	return r, cl, best >= 0
}

// FindCards reads every card (*.yaml) in dir and returns the valid ones,
// sorted by name, and the errors of the others.
func FindCards(dir string) ([]*Card, []error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var cards []*Card
	var errs []error
	for _, m := range matches {
		c, err := ReadCard(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := os.Stat(c.ModelPath()); err != nil {
			errs = append(errs, fmt.Errorf("%w %s: model file: %v", ErrCard, m, err))
			continue
		}
		cards = append(cards, c)
	}
	sort.Slice(cards, func(i, j int) bool { return cards[i].Name < cards[j].Name })
	return cards, errs
}
