// Package conf loads tweedie's YAML configuration. Unknown keys are errors,
// every problem is reported at once with its line, and built-in defaults let
// `tweedie serve` run with no file at all.
package conf

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Config is the whole configuration file.
type Config struct {
	Node NodeConfig `yaml:"node"`
	Log  LogConfig  `yaml:"log"`
}

// NodeConfig is the DICOM node: who it is, where it listens, whom it talks to.
type NodeConfig struct {
	AETitle           string        `yaml:"ae_title"`
	Listen            string        `yaml:"listen"`
	StateDir          string        `yaml:"state_dir"`
	RequireCalledAE   bool          `yaml:"require_called_ae"`
	AllowedCallingAEs []string      `yaml:"allowed_calling_aes"`
	AllowedNetworks   []string      `yaml:"allowed_networks"`
	AcceptAnyStorage  bool          `yaml:"accept_any_storage"`
	TransferSyntaxes  []string      `yaml:"transfer_syntaxes"`
	AcceptCompressed  bool          `yaml:"accept_compressed"`
	MaxPDU            uint32        `yaml:"max_pdu"`
	MaxAssociations   int           `yaml:"max_associations"`
	Fsync             bool          `yaml:"fsync"`
	Timeouts          TimeoutConfig `yaml:"timeouts"`
	TLS               TLSConfig     `yaml:"tls"`
}

// TimeoutConfig holds the network timeouts.
type TimeoutConfig struct {
	ARTIM Duration `yaml:"artim"`
	Idle  Duration `yaml:"idle"`
	DIMSE Duration `yaml:"dimse"`
}

// TLSConfig enables DICOM TLS on the listener (PS3.15 Annex B.1).
type TLSConfig struct {
	Cert         string `yaml:"cert"`
	Key          string `yaml:"key"`
	ClientCA     string `yaml:"client_ca"`
	VerifyClient bool   `yaml:"verify_client"`
}

// LogConfig sets the operational log.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // json or console
}

// Duration is a time.Duration written as "30s", "5m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 30s or 5m)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Default returns the embedded defaults.
func Default() *Config {
	c, err := parse(defaultsYAML, "defaults")
	if err != nil {
		panic("embedded defaults are invalid: " + err.Error())
	}
	return c
}

// Load reads path over the defaults: keys the file leaves out keep their
// default values.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(b, path)
}

func parse(b []byte, name string) (*Config, error) {
	c := &Config{}
	if name != "defaults" {
		c = Default()
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", name, strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n ", "\n"))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root)
	if errs := c.validate(lineIndex(&root)); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(errs, "\n"))
	}
	return c, nil
}

// lineIndex maps dotted key paths to the line they are on, for messages.
func lineIndex(root *yaml.Node) map[string]int {
	idx := map[string]int{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				idx[k] = n.Content[i].Line
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(root, "")
	return idx
}

func (c *Config) validate(lines map[string]int) []string {
	var errs []string
	bad := func(key, format string, args ...any) {
		where := ""
		if l, ok := lines[key]; ok {
			where = fmt.Sprintf("line %d: ", l)
		}
		errs = append(errs, where+key+": "+fmt.Sprintf(format, args...))
	}
	n := &c.Node
	if n.AETitle == "" || len(n.AETitle) > 16 || strings.ContainsAny(n.AETitle, "\\") {
		bad("node.ae_title", "%q must have 1 to 16 characters and no backslash", n.AETitle)
	}
	if n.StateDir == "" {
		bad("node.state_dir", "must not be empty")
	}
	for _, s := range n.AllowedNetworks {
		if _, err := parsePrefix(s); err != nil {
			bad("node.allowed_networks", "%q is not an address or CIDR prefix", s)
		}
	}
	if n.MaxPDU != 0 && (n.MaxPDU < 4096 || n.MaxPDU > 16<<20) {
		bad("node.max_pdu", "%d is outside 4096 … 16777216", n.MaxPDU)
	}
	if n.MaxAssociations < 1 {
		bad("node.max_associations", "must be at least 1")
	}
	if (n.TLS.Cert == "") != (n.TLS.Key == "") {
		bad("node.tls", "cert and key go together")
	}
	if n.TLS.VerifyClient && n.TLS.ClientCA == "" {
		bad("node.tls.verify_client", "needs client_ca")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "%q is not json or console", c.Log.Format)
	}
	return errs
}

// Networks returns the parsed allowlist.
func (n *NodeConfig) Networks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range n.AllowedNetworks {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
