package reconstruct

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	shipped "github.com/tweedie-recon/tweedie/models"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// Summary says, in lines for serve's start-up summary, which
// reconstructors there are for each modality, which score model each
// modality's diffusion reconstructors use, and on which device, without
// loading a model: the ONNX Runtime library's path (o, completed from the
// environment), and whether a CUDA provider is installed beside it.
func Summary(o onnx.Config) []string {
	byMod := map[string][]string{}
	for _, name := range Names() {
		r, err := Lookup(name)
		if err != nil {
			continue
		}
		m := r.Modality()
		if m == "" {
			m = "MR and CT"
		}
		byMod[m] = append(byMod[m], name)
	}
	var mods []string
	for _, m := range []string{"MR", "CT", "MR and CT"} {
		if len(byMod[m]) > 0 {
			mods = append(mods, m+": "+strings.Join(byMod[m], ", "))
		}
	}
	out := []string{fmt.Sprintf("reconstruct  %s; also forward", strings.Join(mods, "; "))}
	return append(out, scoreLines(o.ConfigFromEnv())...)
}

// scoreLines names the score model of each modality and the device.
func scoreLines(o onnx.Config) []string {
	var out []string
	// Models: the models folder first, then the ones shipped in the binary.
	dir := o.Models
	if dir == "" {
		dir = "models"
	}
	type pick struct{ name, where string }
	picks := map[string]pick{}
	consider := func(d, where string) {
		cards, _ := onnx.FindCards(d)
		sort.SliceStable(cards, func(i, j int) bool { return cards[i].Default && !cards[j].Default })
		for _, c := range cards {
			if _, ok := picks[c.Modality]; !ok {
				picks[c.Modality] = pick{c.Name, where}
			}
		}
	}
	consider(dir, dir)
	// The shipped cards are read from the binary: shipped.Dir would hash
	// and write 21 MB of models, and the summary is printed once the
	// listener is open, while the first association may be arriving.
	for _, c := range shippedCards() {
		if _, ok := picks[c.Modality]; !ok {
			picks[c.Modality] = pick{c.Name, "shipped in the binary"}
		}
	}
	var ms []string
	for _, m := range []string{"MR", "CT"} {
		if p, ok := picks[m]; ok {
			ms = append(ms, fmt.Sprintf("%s %s (%s)", m, p.name, p.where))
		} else {
			ms = append(ms, m+" none")
		}
	}
	out = append(out, "score models "+strings.Join(ms, ", ")+" — the default for the diffusion reconstructors (dds, …)")

	dev, err := onnx.ParseDevice(o.Device)
	if err != nil {
		return append(out, "device       "+err.Error())
	}
	lib, err := o.LibraryPath()
	if err != nil {
		return append(out, "device       none: "+err.Error()+" (the diffusion reconstructors fail until it is installed)")
	}
	cuda := false
	if _, err := os.Stat(filepath.Join(filepath.Dir(lib), "libonnxruntime_providers_cuda.so")); err == nil {
		cuda = true
	}
	var d string
	switch {
	case dev.Kind == "cpu":
		d = "CPU (onnx.device: cpu)"
	case cuda:
		d = fmt.Sprintf("CUDA (onnx.device: %s; the CPU if no GPU answers)", dev)
	case dev.Kind == "cuda":
		d = fmt.Sprintf("onnx.device: %s, but this ONNX Runtime has no CUDA provider: jobs on the diffusion reconstructors fail", dev)
	default:
		d = "CPU (this ONNX Runtime build has no CUDA provider)"
	}
	return append(out, fmt.Sprintf("device       %s; ONNX Runtime %s", d, lib))
}

// shippedCards reads the name, modality and default flag of the cards
// embedded in the binary (defaults first), without writing the models out.
func shippedCards() []onnx.Card {
	var cards []onnx.Card
	names, _ := fs.Glob(shipped.FS(), "*.yaml")
	for _, n := range names {
		b, err := fs.ReadFile(shipped.FS(), n)
		if err != nil {
			continue
		}
		var c onnx.Card
		if yaml.Unmarshal(b, &c) == nil && c.Name != "" {
			cards = append(cards, c)
		}
	}
	sort.SliceStable(cards, func(i, j int) bool { return cards[i].Default && !cards[j].Default })
	return cards
}
