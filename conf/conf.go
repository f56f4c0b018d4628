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
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tweedie-recon/tweedie/rules"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Config is the whole configuration file.
type Config struct {
	Node   NodeConfig   `yaml:"node"`
	Log    LogConfig    `yaml:"log"`
	Spool  SpoolConfig  `yaml:"spool"`
	Series SeriesConfig `yaml:"series"`
	NATS   NATSConfig   `yaml:"nats"`
	Jobs   JobsConfig   `yaml:"jobs"`
	// Destinations are the peers results are sent to. When the list is
	// empty, one folder destination named "folder" writing into
	// STATE/outgoing is used (see EffectiveDestinations).
	Destinations []Destination  `yaml:"destinations"`
	Dispatch     DispatchConfig `yaml:"dispatch"`
	Audit        AuditConfig    `yaml:"audit"`
	HTTP         HTTPConfig     `yaml:"http"`
	// MRD is the MRD (ISMRMRD) streaming listener of serve (docs/mrd.md);
	// off unless mrd.listen is set.
	MRD MRDConfig `yaml:"mrd"`
	// ONNX configures the score-model runtime of the diffusion
	// reconstructors.
	ONNX ONNXConfig `yaml:"onnx"`
	// Routing is the rules section (rules and fallback, see the rules
	// package), kept as a YAML node so that it is parsed with the file's
	// line numbers. A file without one gets the embedded routing of
	// defaults.yaml, its destinations filled in (see DefaultRouting): the
	// one default that serve, worker, config check and rules test all use.
	Routing yaml.Node `yaml:"routing"`
	// RoutingDefault reports that Routing is the embedded one.
	RoutingDefault bool `yaml:"-"`
}

// ONNXConfig is the ONNX Runtime section (docs/models.md).
type ONNXConfig struct {
	// Library is the absolute path of libonnxruntime.so.1; empty: the
	// environment's ONNXRUNTIME_SHARED_LIBRARY_PATH, else the path
	// scripts/install-onnxruntime.sh installs to.
	Library string `yaml:"library"`
	// Device is auto, cpu or cuda[:N]; auto tries CUDA and falls back to
	// the CPU with a warning. Empty: the environment's TWEEDIE_ONNX_DEVICE,
	// else auto.
	Device string `yaml:"device"`
	// IntraOpThreads is ONNX Runtime's thread count (0: the CPUs this
	// process may use, divided among jobs.workers).
	IntraOpThreads int `yaml:"intra_op_threads"`
	// Models is the folder of .onnx models and their cards (empty:
	// TWEEDIE_MODELS, else ./models).
	Models string `yaml:"models"`
}

// SpoolConfig is where received instances wait for their series to complete.
type SpoolConfig struct {
	// MinFree is the free-space floor of the state folder's file system:
	// below it C-STORE is answered Out of Resources (0xA700).
	MinFree Size `yaml:"min_free"`
	// Duplicates is what a second copy of a spooled SOP instance does:
	// "replace" the first or "ignore" the second.
	Duplicates string `yaml:"duplicates"`
}

// SeriesConfig decides when a series is complete.
type SeriesConfig struct {
	// Timeout: a series with nothing new for this long is complete.
	Timeout Duration `yaml:"timeout"`
	// AfterProcessed is the policy for instances of a series already
	// processed: "new_job" (they make a job of their own) or "ignore".
	AfterProcessed string `yaml:"after_processed"`
	// UnroutedRetention is how long a series that no rule wants (the
	// routing's fallback has no job for it) is kept in STATE/unrouted
	// before it is removed, with an audit event each time; 0 removes it at
	// once, still audited (docs/gateway.md, "Series no rule wants").
	UnroutedRetention Duration `yaml:"unrouted_retention"`
}

// NATSConfig selects the JetStream the job queue lives on.
type NATSConfig struct {
	// URL of an external NATS cluster; empty runs one embedded in-process.
	URL string `yaml:"url"`
	// Credentials is a NATS credentials file for the external cluster.
	Credentials string `yaml:"credentials"`
	// Listen is the embedded server's client listener (host:port), for
	// `tweedie worker` on other machines; empty: no listener at all.
	Listen string `yaml:"listen"`
	// StoreDir is the embedded server's JetStream folder; empty:
	// STATE/jetstream.
	StoreDir string `yaml:"store_dir"`
	// Authentication, one way at most, secrets from files (never the
	// command line, where every user of the host reads them in
	// /proc/<pid>/cmdline). The embedded server's listener requires it;
	// a client (nats.url, tweedie worker, and serve's own in-process
	// connection) presents it.
	User         string `yaml:"user"`           // with password_file
	PasswordFile string `yaml:"password_file"`  // file holding the password
	TokenFile    string `yaml:"token_file"`     // file holding a token
	NKeySeedFile string `yaml:"nkey_seed_file"` // file holding a user NKey seed (SU…); the server allows its public key
	// TLS of the queue: for the embedded listener cert and key (and ca:
	// client certificates required, signed by it); for a client ca (the
	// server's CA; empty: the system's) and optionally cert and key.
	TLS NATSTLS `yaml:"tls"`
	// PinnedServerCert (not in the file): serve's worker processes trust
	// exactly the certificate of serve's own TLS listener, this file,
	// whatever its issuer and names (jobs.isolation: process).
	PinnedServerCert string `yaml:"-"`
}

// NATSTLS is TLS on the job queue's connections (RFC 8446; NATS upgrades
// the connection after its INFO line, or at once with tls://).
type NATSTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Auth says which authentication the NATS section configures ("" none,
// "user", "token", "nkey", "credentials").
func (c NATSConfig) Auth() string {
	switch {
	case c.User != "" || c.PasswordFile != "":
		return "user"
	case c.TokenFile != "":
		return "token"
	case c.NKeySeedFile != "":
		return "nkey"
	case c.Credentials != "":
		return "credentials"
	}
	return ""
}

// LoopbackOnly reports whether hostPort (a listen address or a URL's
// host:port) reaches only this host: a loopback IP address or
// "localhost". An empty host ("" or ":4222") is every interface.
func LoopbackOnly(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

func (c NATSConfig) problems(bad func(path, format string, a ...any)) {
	ways := 0
	for _, set := range []bool{c.User != "" || c.PasswordFile != "", c.TokenFile != "", c.NKeySeedFile != "", c.Credentials != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		bad("nats", "user/password_file, token_file, nkey_seed_file and credentials are alternatives; set one")
	}
	if (c.User == "") != (c.PasswordFile == "") {
		bad("nats.user", "user and password_file go together")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("nats.tls", "cert and key go together")
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil {
			bad("nats.listen", "%q is not host:port", c.Listen)
		} else if _, err := strconv.Atoi(port); err != nil {
			bad("nats.listen", "port %q is not a number", port)
		}
		if c.Credentials != "" {
			bad("nats.credentials", "is for a client of an external cluster; the embedded listener takes user/password_file, token_file or nkey_seed_file")
		}
		if !LoopbackOnly(c.Listen) {
			// Whoever reaches the port can read every queued instance
			// (PHI), forge job outcomes or purge the queue.
			if c.Auth() == "" {
				bad("nats.listen", "%s is beyond loopback: set user and password_file, token_file or nkey_seed_file so that only workers connect", c.Listen)
			}
			if c.TLS.Cert == "" {
				bad("nats.listen", "%s is beyond loopback: set nats.tls.cert and key so that jobs and instances do not cross the network in the clear", c.Listen)
			}
		}
	}
	if c.URL != "" && strings.Contains(c.URL, "://") {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" {
			bad("nats.url", "%q is not a URL like nats://host:4222", c.URL)
		} else if u.User != nil {
			bad("nats.url", "carries credentials; put them in password_file or token_file, not in the URL")
		} else if !LoopbackOnly(u.Host) {
			if c.Auth() == "" {
				bad("nats.url", "%s is beyond loopback: set credentials, user and password_file, token_file or nkey_seed_file", u.Host)
			}
			if u.Scheme != "tls" && c.TLS.CA == "" && c.TLS.Cert == "" {
				bad("nats.url", "%s is beyond loopback: use tls://, or set nats.tls.ca, so that jobs do not cross the network in the clear", u.Host)
			}
		}
	}
}

// JobsConfig sets the reconstruction work queue.
type JobsConfig struct {
	Workers     int      `yaml:"workers"`      // in-process workers; 0: only remote ones
	MaxAttempts int      `yaml:"max_attempts"` // deliveries before quarantine
	AckWait     Duration `yaml:"ack_wait"`     // redelivery after a silent worker
	RetryDelay  Duration `yaml:"retry_delay"`  // wait before a failed job runs again
	// Isolation: "process" (serve runs its workers as child processes,
	// `tweedie worker`, supervised and restarted: a crash in a
	// reconstructor cannot take the DICOM listener down, and the job that
	// killed its worker is quarantined at once; the default) or
	// "in-process".
	Isolation string `yaml:"isolation"`
	// Timeout ends a job that runs longer (the runner's context, then
	// the child process); 0: no limit.
	Timeout Duration `yaml:"timeout"`
}

// Destination is a peer results are sent to: a DICOM Storage SCP, or a
// folder.
type Destination struct {
	Name      string        `yaml:"name"`
	Type      string        `yaml:"type"` // dicom (default) or folder
	AETitle   string        `yaml:"ae_title"`
	Host      string        `yaml:"host"`
	Port      int           `yaml:"port"`
	CallingAE string        `yaml:"calling_ae"` // empty: node.ae_title
	TLS       ClientTLSConf `yaml:"tls"`
	Path      string        `yaml:"path"` // folder; empty: STATE/outgoing
}

// ClientTLSConf is DICOM TLS towards a destination (PS3.15 Annex B.1).
type ClientTLSConf struct {
	Enabled    bool   `yaml:"enabled"`
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

// DispatchConfig sets the outboxes' retry policy.
type DispatchConfig struct {
	MaxAttempts    int      `yaml:"max_attempts"`
	BackoffInitial Duration `yaml:"backoff_initial"`
	BackoffMax     Duration `yaml:"backoff_max"`
	Batch          int      `yaml:"batch"` // instances per association
}

// AuditConfig sets the audit stream (PS3.15 Annex A.5 messages as JSON).
type AuditConfig struct {
	// Path of the audit log; empty: STATE/audit.log; "-": standard output.
	Path string `yaml:"path"`
	// IncludePatient lets patient names and IDs into the audit stream.
	IncludePatient bool `yaml:"include_patient"`
}

// HTTPConfig is the loopback endpoint for /metrics and /healthz.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // empty: none
}

// MRDConfig is serve's MRD streaming listener (docs/mrd.md, Streaming):
// Gadgetron clients, FIRE/OpenRecon and python-ismrmrd-server's client.py
// stream raw data to it; the acquisitions go through the spool, the rules
// and the job queue like a C-STORE series.
type MRDConfig struct {
	// Listen is host:port; empty: no MRD listener (the default).
	Listen string `yaml:"listen"`
	// AllowedNetworks are the addresses or CIDR prefixes clients may
	// connect from (default: loopback only); others are refused and
	// audited. An empty list allows any address.
	AllowedNetworks []string `yaml:"allowed_networks"`
	// Destinations receive the derived series of each session's
	// reconstruction (names of configured destinations); empty: none
	// (the images go back on the connection only).
	Destinations []string `yaml:"destinations"`
	// MaxSessions bounds the sessions at a time (others are refused).
	MaxSessions int `yaml:"max_sessions"`
	// MaxBytes bounds the acquisitions one session holds.
	MaxBytes Size `yaml:"max_bytes"`
	// Timeout bounds one session from its connection to its last image,
	// the reconstruction included.
	Timeout Duration `yaml:"timeout"`
}

// Described names the listener's clients and destinations as the config
// check and serve's start-up summary print them: the allowlist or "any
// address", the destinations or "none".
func (m *MRDConfig) Described() (clients, destinations string) {
	clients, destinations = "any address", "none"
	if len(m.AllowedNetworks) > 0 {
		clients = strings.Join(m.AllowedNetworks, ", ")
	}
	if len(m.Destinations) > 0 {
		destinations = strings.Join(m.Destinations, ", ")
	}
	return clients, destinations
}

// Networks returns the parsed allowlist.
func (m *MRDConfig) Networks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range m.AllowedNetworks {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Size is a byte count written as 1073741824, "512MiB", "1GB" or "0".
type Size int64

// UnmarshalYAML parses a size with an optional unit (B, KB, MB, GB, TB,
// KiB, MiB, GiB, TiB).
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseSize(s)
	if err != nil {
		return typeError(n, err.Error())
	}
	*z = v
	return nil
}

// String writes z in GiB or MiB (units ParseSize reads) when it is a
// whole number of them, else as "N bytes".
func (z Size) String() string {
	switch b := int64(z); {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	default:
		return fmt.Sprintf("%d bytes", b)
	}
}

// ParseSize parses a byte count with an optional unit.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	var v int64
	if _, err := fmt.Sscan(t, &v); err != nil || v < 0 || fmt.Sprint(v) != t {
		return 0, fmt.Errorf("%q is not a size (like 1073741824, 512MiB or 1GB)", s)
	}
	// v*mult must not wrap: "16777216TiB" is 2^64 bytes, which int64
	// arithmetic makes 0 (a floor silently switched off) or negative.
	if v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large (at most %d bytes)", s, int64(math.MaxInt64))
	}
	return Size(v * mult), nil
}

// NodeConfig is the DICOM node: who it is, where it listens, whom it talks to.
type NodeConfig struct {
	AETitle           string   `yaml:"ae_title"`
	Listen            string   `yaml:"listen"`
	StateDir          string   `yaml:"state_dir"`
	RequireCalledAE   bool     `yaml:"require_called_ae"`
	AllowedCallingAEs []string `yaml:"allowed_calling_aes"`
	AllowedNetworks   []string `yaml:"allowed_networks"`
	AcceptAnyStorage  bool     `yaml:"accept_any_storage"`
	TransferSyntaxes  []string `yaml:"transfer_syntaxes"`
	AcceptCompressed  bool     `yaml:"accept_compressed"`
	MaxPDU            uint32   `yaml:"max_pdu"`
	MaxAssociations   int      `yaml:"max_associations"`
	// MaxPending caps the connections not yet associated (from accept to
	// the A-ASSOCIATE-AC); when all are taken a new one evicts the oldest.
	MaxPending int `yaml:"max_pending"`
	// MaxPendingPerAddress caps them per source address; more from one
	// address are closed at accept.
	MaxPendingPerAddress int           `yaml:"max_pending_per_address"`
	Fsync                bool          `yaml:"fsync"`
	Timeouts             TimeoutConfig `yaml:"timeouts"`
	TLS                  TLSConfig     `yaml:"tls"`
	// Deflate bounds Deflated Explicit VR Little Endian data sets.
	Deflate DeflateConfig `yaml:"deflate"`
}

// DeflateConfig is the inflation limit of deflated data sets (PS3.5 §A.5):
// one that inflates beyond either bound is refused with 0xA700 while it
// arrives, before anything of it is stored.
type DeflateConfig struct {
	// MaxInflated is the largest inflated data set accepted.
	MaxInflated Size `yaml:"max_inflated"`
	// MaxRatio bounds inflated bytes per deflated byte (beyond the first
	// MiB).
	MaxRatio float64 `yaml:"max_ratio"`
}

// TimeoutConfig holds the network timeouts.
type TimeoutConfig struct {
	ARTIM Duration `yaml:"artim"`
	Idle  Duration `yaml:"idle"`
	DIMSE Duration `yaml:"dimse"`
	// Write bounds each PDU written: a peer that stops reading loses its
	// association when it expires.
	Write Duration `yaml:"write"`
}

// TLSConfig enables DICOM TLS on the listener (PS3.15 Annex B.1).
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, makes the listener require a client certificate
	// signed by one of its CAs: naming the CAs to trust means clients are
	// to be authenticated, and a listener that would also take anonymous
	// clients authenticates no one (PS3.15 §B.1 leaves it to the node).
	ClientCA string `yaml:"client_ca"`
	// VerifyClient asks for the same and needs ClientCA; ClientCA implies it.
	VerifyClient bool `yaml:"verify_client"`
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
		return typeError(n, fmt.Sprintf("%q is not a duration (like 30s or 5m)", s))
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

// Check is an extra validation run by LoadChecked after the file's own:
// other packages (the rules, the gateway's cross-references, the
// reconstructors' parameters) report their problems through it, with their
// positions where known.
type Check func(*Config) []Problem

// LoadChecked is Load followed by the checks; every problem, the file's own
// and the checks', is reported at once in one *Error, sorted by position.
// An empty path checks the embedded defaults.
func LoadChecked(path string, checks ...Check) (*Config, error) {
	if path == "" {
		return parseChecked(defaultsYAML, "defaults", checks...)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseChecked(b, path, checks...)
}

// Parse reads a configuration from bytes over the defaults; name is used
// in messages.
func Parse(b []byte, name string, checks ...Check) (*Config, error) {
	return parseChecked(b, name, checks...)
}

func parse(b []byte, name string) (*Config, error) { return parseChecked(b, name) }

func parseChecked(b []byte, name string, checks ...Check) (*Config, error) {
	c := &Config{}
	if name != "defaults" {
		c = Default()
	}
	var errs []Problem
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	decodeErr := dec.Decode(c)
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root)
	lines := lineIndex(&root)
	if decodeErr != nil && !errors.Is(decodeErr, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(decodeErr, &te) {
			// A syntax error: nothing else can be checked.
			rp := rules.SyntaxProblem(decodeErr)
			return nil, &Error{Name: name, Problems: []Problem{{Line: rp.Line, Col: rp.Column, Msg: rp.Msg}}}
		}
		// Type errors and unknown keys: the rest was decoded, so the
		// checks below still run and everything is reported at once.
		for _, m := range te.Errors {
			errs = append(errs, decodeProblem(m, lines))
		}
	}
	errs = append(errs, c.validate(lines)...)
	if _, given := lines["routing"]; given && name != "defaults" {
		c.RoutingDefault = false
	} else {
		c.Routing, c.RoutingDefault = c.defaultRouting(), true
	}
	for _, chk := range checks {
		errs = append(errs, chk(c)...)
	}
	if len(errs) > 0 {
		SortProblems(errs)
		return nil, &Error{Name: name, Problems: errs}
	}
	return c, nil
}

// pos is where a key is written, 1-based.
type pos struct{ line, col int }

// lineIndex maps dotted key paths to where their keys are written, for
// messages.
func lineIndex(root *yaml.Node) map[string]pos {
	idx := map[string]pos{}
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
				idx[k] = pos{n.Content[i].Line, n.Content[i].Column}
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				k := fmt.Sprintf("%s.%d", prefix, i)
				idx[k] = pos{c.Line, c.Column}
				walk(c, k)
			}
		}
	}
	walk(root, "")
	return idx
}

func (c *Config) validate(lines map[string]pos) []Problem {
	var errs []Problem
	bad := func(key, format string, args ...any) {
		at := lines[key]
		errs = append(errs, Problem{Line: at.line, Col: at.col, Path: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch d := c.ONNX.Device; {
	case d == "" || d == "auto" || d == "cpu" || d == "cuda":
	case strings.HasPrefix(d, "cuda:") && isDigits(d[5:]):
	default:
		bad("onnx.device", "%q is not auto, cpu or cuda[:N]", d)
	}
	if c.ONNX.Library != "" && !strings.HasPrefix(c.ONNX.Library, "/") {
		bad("onnx.library", "%q must be an absolute path", c.ONNX.Library)
	}
	if c.ONNX.IntraOpThreads < 0 {
		bad("onnx.intra_op_threads", "must not be negative")
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
	if n.MaxPending < 1 {
		bad("node.max_pending", "must be at least 1")
	}
	if n.MaxPendingPerAddress < 1 || n.MaxPendingPerAddress > n.MaxPending {
		bad("node.max_pending_per_address", "must be 1 to max_pending (%d)", n.MaxPending)
	}
	if n.Deflate.MaxInflated < 1<<20 {
		bad("node.deflate.max_inflated", "must be at least 1MiB")
	}
	if n.Deflate.MaxRatio < 2 {
		bad("node.deflate.max_ratio", "must be at least 2")
	}
	if (n.TLS.Cert == "") != (n.TLS.Key == "") {
		bad("node.tls", "cert and key go together")
	}
	if n.TLS.VerifyClient && n.TLS.ClientCA == "" {
		bad("node.tls.verify_client", "needs client_ca")
	}
	if c.Spool.MinFree < 0 {
		bad("spool.min_free", "must not be negative")
	}
	switch c.Spool.Duplicates {
	case "replace", "ignore":
	default:
		bad("spool.duplicates", "%q is not replace or ignore", c.Spool.Duplicates)
	}
	if c.Series.Timeout <= 0 {
		bad("series.timeout", "must be positive")
	}
	if c.Series.UnroutedRetention < 0 {
		bad("series.unrouted_retention", "must not be negative")
	}
	switch c.Series.AfterProcessed {
	case "new_job", "ignore":
	default:
		bad("series.after_processed", "%q is not new_job or ignore", c.Series.AfterProcessed)
	}
	if c.NATS.URL != "" && c.NATS.Listen != "" {
		bad("nats.listen", "is for the embedded server; with nats.url set there is none")
	}
	if c.NATS.URL != "" && !strings.Contains(c.NATS.URL, "://") {
		bad("nats.url", "%q is not a URL like nats://host:4222", c.NATS.URL)
	}
	c.NATS.problems(bad)
	if c.Jobs.Workers < 0 {
		bad("jobs.workers", "must not be negative")
	}
	if c.Jobs.MaxAttempts < 1 {
		bad("jobs.max_attempts", "must be at least 1")
	}
	if c.Jobs.AckWait < Duration(time.Second) {
		bad("jobs.ack_wait", "must be at least 1s")
	}
	switch c.Jobs.Isolation {
	case "":
		c.Jobs.Isolation = "process" // the default: reconstructions out of the listener's process
	case "process", "in-process":
	default:
		bad("jobs.isolation", "%q is not process or in-process", c.Jobs.Isolation)
	}
	if c.Jobs.Timeout < 0 {
		bad("jobs.timeout", "must not be negative")
	}
	if c.Jobs.RetryDelay < 0 {
		bad("jobs.retry_delay", "must not be negative")
	}
	seen := map[string]bool{}
	for i, d := range c.Destinations {
		key := fmt.Sprintf("destinations[%d]", i)
		where := func(field string) string { return fmt.Sprintf("destinations.%d.%s", i, field) }
		badAt := func(field, format string, args ...any) {
			at, ok := lines[where(field)]
			if !ok {
				at = lines[fmt.Sprintf("destinations.%d", i)]
			}
			errs = append(errs, Problem{Line: at.line, Col: at.col, Path: key + "." + field, Msg: fmt.Sprintf(format, args...)})
		}
		if !validName(d.Name) {
			badAt("name", "%q must be 1 to 64 letters, digits, '-' or '_'", d.Name)
		} else if seen[d.Name] {
			badAt("name", "%q is used twice", d.Name)
		}
		seen[d.Name] = true
		switch d.Type {
		case "", "dicom":
			if d.AETitle == "" || len(d.AETitle) > 16 || strings.ContainsAny(d.AETitle, "\\") {
				badAt("ae_title", "%q must have 1 to 16 characters and no backslash", d.AETitle)
			}
			if d.Host == "" {
				badAt("host", "must be set for a dicom destination")
			}
			if d.Port < 1 || d.Port > 65535 {
				badAt("port", "%d is not a TCP port", d.Port)
			}
			if len(d.CallingAE) > 16 {
				badAt("calling_ae", "%q has more than 16 characters", d.CallingAE)
			}
			if (d.TLS.Cert == "") != (d.TLS.Key == "") {
				badAt("tls", "cert and key go together")
			}
		case "folder":
			if d.AETitle != "" || d.Host != "" || d.Port != 0 {
				badAt("type", "a folder destination takes only name and path")
			}
		default:
			badAt("type", "%q is not dicom or folder", d.Type)
		}
	}
	if c.Dispatch.MaxAttempts < 1 {
		bad("dispatch.max_attempts", "must be at least 1")
	}
	if c.Dispatch.BackoffInitial <= 0 {
		bad("dispatch.backoff_initial", "must be positive")
	}
	if c.Dispatch.BackoffMax < c.Dispatch.BackoffInitial {
		bad("dispatch.backoff_max", "must be at least backoff_initial")
	}
	if c.Dispatch.Batch < 1 {
		bad("dispatch.batch", "must be at least 1")
	}
	c.MRD.problems(c, bad)
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

func (m *MRDConfig) problems(c *Config, bad func(path, format string, a ...any)) {
	if m.Listen != "" {
		if _, port, err := net.SplitHostPort(m.Listen); err != nil || !isDigits(port) {
			bad("mrd.listen", "%q is not host:port", m.Listen)
		}
	}
	for _, s := range m.AllowedNetworks {
		if _, err := parsePrefix(s); err != nil {
			bad("mrd.allowed_networks", "%q is not an address or CIDR prefix", s)
		}
	}
	known := map[string]bool{}
	for _, d := range c.EffectiveDestinations() {
		known[d.Name] = true
	}
	seen := map[string]bool{}
	for _, d := range m.Destinations {
		switch {
		case !known[d]:
			bad("mrd.destinations", "%q is not a configured destination", d)
		case seen[d]:
			bad("mrd.destinations", "%q is named twice", d)
		}
		seen[d] = true
	}
	if m.MaxSessions < 1 {
		bad("mrd.max_sessions", "must be at least 1")
	}
	if m.MaxBytes < 1<<20 {
		bad("mrd.max_bytes", "must be at least 1MiB")
	}
	if m.Timeout < Duration(time.Second) {
		bad("mrd.timeout", "must be at least 1s")
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// everyDestination is the placeholder of the embedded routing's actions
// for "every effective destination".
const everyDestination = "every-destination"

// defaultRouting returns the embedded routing (defaults.yaml) with each
// action's destination list set to every effective destination.
func (c *Config) defaultRouting() yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(defaultsYAML, &doc); err != nil {
		panic("embedded defaults are invalid: " + err.Error())
	}
	var routing *yaml.Node
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "routing" {
			routing = top.Content[i+1]
		}
	}
	if routing == nil {
		panic("embedded defaults have no routing section")
	}
	var names []*yaml.Node
	for _, d := range c.EffectiveDestinations() {
		names = append(names, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: d.Name})
	}
	var fill func(n *yaml.Node)
	fill = func(n *yaml.Node) {
		if n.Kind == yaml.SequenceNode && len(n.Content) == 1 && n.Content[0].Value == everyDestination {
			line, col := n.Content[0].Line, n.Content[0].Column
			n.Content = nil
			for _, nm := range names {
				cp := *nm
				cp.Line, cp.Column = line, col
				n.Content = append(n.Content, &cp)
			}
			return
		}
		for _, ch := range n.Content {
			fill(ch)
		}
	}
	fill(routing)
	return *routing
}

// DefaultDestination is the name of the folder destination used when the
// configuration names none.
const DefaultDestination = "folder"

// EffectiveDestinations returns the configured destinations, or the
// built-in folder destination (STATE/outgoing) when there are none; folder
// destinations without a path get STATE/outgoing.
func (c *Config) EffectiveDestinations() []Destination {
	ds := c.Destinations
	if len(ds) == 0 {
		ds = []Destination{{Name: DefaultDestination, Type: "folder"}}
	}
	out := make([]Destination, len(ds))
	for i, d := range ds {
		if d.Type == "" {
			d.Type = "dicom"
		}
		if d.Type == "folder" && d.Path == "" {
			d.Path = filepath.Join(c.Node.StateDir, "outgoing")
		}
		if d.CallingAE == "" {
			d.CallingAE = c.Node.AETitle
		}
		out[i] = d
	}
	return out
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

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
