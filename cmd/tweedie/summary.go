package main

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/tweedie-recon/tweedie/conf"
	shipped "github.com/tweedie-recon/tweedie/models"
	"github.com/tweedie-recon/tweedie/reconstruct"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// nodeAddrs is what the summary needs of a started node (*gateway.Node).
type nodeAddrs interface {
	Addr() net.Addr
	HTTPAddr() net.Addr
	NATSURL() string
}

// printSummary writes, at start, what the node will do with what it
// receives, in words a PACS administrator can act on: where it listens and
// as whom, whom it accepts, its HTTP endpoints, the state folder, the
// routing in force, the destinations, the reconstructors with their score
// models and device, and where the audit trail and the log go. In the
// console format the lines go to w as they are; in the json format they
// are one log record (field "summary"), so the stream stays JSON.
func printSummary(w io.Writer, log zerolog.Logger, cfg *conf.Config, cfgPath string, n nodeAddrs) {
	lines := summaryLines(cfg, cfgPath, n)
	if cfg.Log.Format == "json" {
		log.Info().Strs("summary", lines).Msg("what this node does")
		return
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func summaryLines(cfg *conf.Config, cfgPath string, n nodeAddrs) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	node := cfg.Node
	src := "embedded defaults (no configuration file)"
	if cfgPath != "" {
		src = abs(cfgPath)
	}
	add("tweedie serve: what this node does (configuration: %s)", src)

	// DICOM: address, AE title, TLS.
	listen := node.Listen
	if n != nil && n.Addr() != nil {
		listen = n.Addr().String()
	}
	tls := "no TLS"
	if node.TLS.Cert != "" {
		tls = "DICOM TLS"
		if node.TLS.ClientCA != "" {
			tls += ", client certificates required"
		}
	}
	add("  DICOM        %s@%s (%s)%s", node.AETitle, listen, tls, hostNote(listen))
	called := "any called AE title"
	if node.RequireCalledAE {
		called = "called AE title must be " + node.AETitle
	}
	switch {
	case len(node.AllowedCallingAEs) == 0 && len(node.AllowedNetworks) == 0:
		add("  accepts      any peer (%s; no node.allowed_calling_aes or node.allowed_networks)", called)
	default:
		aes, nets := "any calling AE", "any address"
		if len(node.AllowedCallingAEs) > 0 {
			aes = "calling AE in " + strings.Join(node.AllowedCallingAEs, ", ")
		}
		if len(node.AllowedNetworks) > 0 {
			nets = "from " + strings.Join(node.AllowedNetworks, ", ")
		}
		add("  accepts      %s, %s (%s)", aes, nets, called)
	}

	// HTTP endpoints.
	if n != nil && n.HTTPAddr() != nil {
		h := n.HTTPAddr().String()
		add("  HTTP         http://%s/metrics (Prometheus), http://%s/healthz", h, h)
	} else {
		add("  HTTP         off (http.listen is empty): no /metrics, no /healthz")
	}
	if n != nil && n.NATSURL() != "" {
		add("  NATS         %s (JetStream, for remote workers)", n.NATSURL())
	}

	state := abs(node.StateDir)
	add("  state        %s (journal, spool, batches, outboxes, quarantine, dead letters)", state)

	// Routing.
	for _, l := range routingLines(cfg, cfgPath) {
		add("  %s", l)
	}

	// Destinations.
	for i, d := range cfg.EffectiveDestinations() {
		label := "  destinations"
		if i > 0 {
			label = "              "
		}
		switch d.Type {
		case "folder":
			add("%s %s: folder %s", label, d.Name, abs(d.Path))
		default:
			t := ""
			if d.TLS.Enabled {
				t = ", TLS"
			}
			add("%s %s: DICOM %s@%s:%d (calling AE %s%s)", label, d.Name, d.AETitle, d.Host, d.Port, d.CallingAE, t)
		}
	}

	// Reconstructors and the score models.
	byMod := map[string][]string{}
	for _, name := range reconstruct.Names() {
		r, err := reconstruct.Lookup(name)
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
	add("  reconstruct  %s; also forward", strings.Join(mods, "; "))
	for _, l := range scoreLines(cfg) {
		add("  %s", l)
	}

	// Audit and log.
	switch cfg.Audit.Path {
	case "":
		add("  audit        %s (JSON lines, PS3.15 A.5 events; patient names and IDs %s)", filepath.Join(state, "audit.log"), included(cfg.Audit.IncludePatient))
	case "-":
		add("  audit        standard output (JSON lines; patient names and IDs %s)", included(cfg.Audit.IncludePatient))
	default:
		add("  audit        %s (JSON lines; patient names and IDs %s)", abs(cfg.Audit.Path), included(cfg.Audit.IncludePatient))
	}
	add("  log          standard error (journald under systemd), format %s, level %s", cfg.Log.Format, cfg.Log.Level)
	return out
}

func included(b bool) string {
	if b {
		return "included"
	}
	return "left out"
}

// hostNote explains a listener on every interface.
func hostNote(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return ", on every interface"
	}
	return ""
}

// routingLines lists the rules in order with what each does, and the
// fallback; from the configuration file, or the embedded routing.
func routingLines(cfg *conf.Config, cfgPath string) []string {
	var r struct {
		Rules []struct {
			Name        string    `yaml:"name"`
			Description string    `yaml:"description"`
			Match       yaml.Node `yaml:"match"`
			Actions     yaml.Node `yaml:"actions"`
			Stop        bool      `yaml:"stop"`
		} `yaml:"rules"`
		Fallback yaml.Node `yaml:"fallback"`
	}
	from := "embedded (conf/defaults.yaml"
	if cfgPath != "" {
		from += "; " + cfgPath + " has no routing section"
	}
	from += ")"
	if !cfg.RoutingDefault {
		from = "from " + cfgPath
	}
	out := []string{"routing      " + from + "; rules in order:"}
	if err := cfg.Routing.Decode(&r); err != nil {
		return append(out, "               (cannot be shown: "+err.Error()+")")
	}
	for i, rule := range r.Rules {
		stop := ""
		if rule.Stop {
			stop = ", then stop"
		}
		desc := ""
		if rule.Description != "" {
			desc = " (" + rule.Description + ")"
		}
		out = append(out, fmt.Sprintf("               %d. %s%s: when %s → %s%s", i+1, rule.Name, desc, flow(&rule.Match), flow(&rule.Actions), stop))
	}
	fb := "(none)"
	if !r.Fallback.IsZero() {
		fb = flow(&r.Fallback)
	}
	return append(out, "               otherwise (fallback): "+fb)
}

// flow renders a YAML node on one line.
func flow(n *yaml.Node) string {
	if n == nil || n.IsZero() {
		return "always"
	}
	c := *n
	setFlow(&c)
	b, err := yaml.Marshal(&c)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func setFlow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	kids := make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c := *k
		setFlow(&c)
		kids[i] = &c
	}
	n.Content = kids
}

// scoreLines says which score model each modality's diffusion
// reconstructors use and on which device, without loading a model: the
// library's path, and whether a CUDA provider is installed beside it.
func scoreLines(cfg *conf.Config) []string {
	o := onnx.Config{Library: cfg.ONNX.Library, Device: cfg.ONNX.Device, IntraOpThreads: cfg.ONNX.IntraOpThreads, Models: cfg.ONNX.Models}.ConfigFromEnv()
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
