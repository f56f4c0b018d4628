package gateway

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/tweedie-recon/tweedie/conf"
)

// NodeAddrs is what the summary needs of a started node (*Node).
type NodeAddrs interface {
	Addr() net.Addr
	HTTPAddr() net.Addr
	NATSURL() string
}

// PrintSummary writes, at start, what the node will do with what it
// receives (SummaryLines). In the console format the lines go to w as
// they are; in the json format they are one log record (field
// "summary"), so the stream stays JSON.
func PrintSummary(w io.Writer, log zerolog.Logger, cfg *conf.Config, cfgPath string, n NodeAddrs, reconstruction []string) {
	lines := SummaryLines(cfg, cfgPath, n, reconstruction)
	if cfg.Log.Format == "json" {
		log.Info().Strs("summary", lines).Msg("what this node does")
		return
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// SummaryLines says what the node will do with what it receives, in words
// a PACS administrator can act on: where it listens and as whom, whom it
// accepts, its HTTP endpoints, the state folder, the routing in force, the
// destinations, the reconstruction (lines given by the caller: the
// reconstructors with their score models and device) and where the audit
// trail and the log go. n may be nil (a node not started: the configured
// addresses).
func SummaryLines(cfg *conf.Config, cfgPath string, n NodeAddrs, reconstruction []string) []string {
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
	if m := cfg.MRD; m.Listen != "" {
		addr := m.Listen
		if a, ok := n.(interface{ MRDAddr() net.Addr }); ok && a.MRDAddr() != nil {
			addr = a.MRDAddr().String()
		}
		nets, dests := m.Described()
		add("  MRD          %s (MRD streaming, docs/mrd.md) from %s; derived series also to %s", addr, nets, dests)
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
	for _, l := range reconstruction {
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
