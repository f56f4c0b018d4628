package conf

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{{"0", 0, true}, {"1024", 1024, true}, {"512MiB", 512 << 20, true}, {"1GB", 1e9, true}, {"2 KiB", 2048, true},
		{"-1", 0, false}, {"1.5GB", 0, false}, {"lots", 0, false}, {"", 0, false},
		// Overflow is an error, never a wrapped value: 2^24 TiB is 2^64
		// bytes, which wraps to 0; 10000000TB wraps to a negative size.
		{"16777216TiB", 0, false}, {"10000000TB", 0, false}, {"8388607TiB", 8388607 << 40, true},
		{"9223372036854775807", 9223372036854775807, true}, {"9223372036854775807B", 9223372036854775807, true},
		{"9223372036854775807KiB", 0, false}} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// TestSizeString: whole GiB and MiB are written in that unit and read back
// to the same size; anything else as a byte count.
func TestSizeString(t *testing.T) {
	for in, want := range map[Size]string{4 << 30: "4GiB", 512 << 20: "512MiB", 1536 << 20: "1536MiB", 1000: "1000 bytes", 0: "0 bytes"} {
		if got := in.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(in), got, want)
		}
		if back, err := ParseSize(want); strings.HasSuffix(want, "iB") && (err != nil || back != in) {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", want, back, err, int64(in))
		}
	}
}

func TestDefaultsAndErrorsAtOnce(t *testing.T) {
	c := Default()
	if d := c.EffectiveDestinations(); len(d) != 1 || d[0].Type != "folder" || d[0].Name != DefaultDestination {
		t.Errorf("default destinations %+v", d)
	}
	// Reconstructions run out of the DICOM listener's process by default
	// (issue 14), in a file that does not say and in one that leaves it empty.
	if c.Jobs.Isolation != "process" {
		t.Errorf("default jobs.isolation %q, want process", c.Jobs.Isolation)
	}
	for _, y := range []string{"jobs:\n  workers: 2\n", "jobs:\n  isolation: \"\"\n"} {
		f, err := Parse([]byte(y), "x.yaml")
		if err != nil {
			t.Errorf("%q: %v", y, err)
		} else if f.Jobs.Isolation != "process" {
			t.Errorf("%q: jobs.isolation %q, want process", y, f.Jobs.Isolation)
		}
	}
	_, err := Parse([]byte("series:\n  timeout: soon\n  after_processed: maybe\nspool:\n  min_free: much\ndestinations:\n  - {name: a, type: dicom}\n  - {name: a, type: folder}\ncolour: blue\n"), "x.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"line 2", "line 3", "line 5", "line 7", "line 8", "line 9", "colour", "used twice", "ae_title"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in\n%v", want, err)
		}
	}
}

// TestDefaultRouting: the embedded routing is the one default: the
// defaults have it with the folder destination, a file without a routing
// section gets it with the file's destinations, and a file's own routing
// replaces it.
func TestDefaultRouting(t *testing.T) {
	names := func(c *Config) string {
		b, err := yaml.Marshal(&c.Routing)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	d := Default()
	if r := names(d); !d.RoutingDefault || !strings.Contains(r, "mr-kspace") || !strings.Contains(r, "destinations: [folder]") || strings.Contains(r, everyDestination) {
		t.Errorf("defaults' routing:\n%s", r)
	}
	c, err := Parse([]byte("destinations:\n  - {name: pacs, ae_title: PACS, host: pacs.example.org, port: 104}\n  - {name: archive, type: folder, path: /srv/archive}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := names(c); !c.RoutingDefault || !strings.Contains(r, "ct-sinogram-volume") || !strings.Contains(r, "destinations: [pacs, archive]") {
		t.Errorf("routing of a file without one:\n%s", r)
	}
	c, err = Parse([]byte("routing:\n  fallback: [{discard: {}}]\n"), "y.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := names(c); c.RoutingDefault || strings.Contains(r, "mr-kspace") || c.Routing.Line != 2 {
		t.Errorf("a file's own routing (line %d):\n%s", c.Routing.Line, r)
	}
}

func TestNodeLimits(t *testing.T) {
	n := Default().Node
	if n.MaxPending != 128 || n.MaxPendingPerAddress != 16 || n.Deflate.MaxInflated != 2<<30 || n.Deflate.MaxRatio != 200 ||
		n.Timeouts.Write != Duration(60*time.Second) {
		t.Errorf("defaults %+v", n)
	}
	_, err := Parse([]byte("node:\n  max_pending: 8\n  max_pending_per_address: 9\n  deflate:\n    max_inflated: 1KiB\n    max_ratio: 1\n"), "x.yaml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *conf.Error: %v", err)
	}
	want := []Problem{{3, 3, "node.max_pending_per_address", "must be 1 to max_pending (8)"},
		{5, 5, "node.deflate.max_inflated", "must be at least 1MiB"}, {6, 5, "node.deflate.max_ratio", "must be at least 2"}}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems %+v, want %+v", ce.Problems, want)
	}
}

// TestProblemsTyped: the file's problems come as a typed list from the
// YAML decoder (unknown keys, values the types refuse) and the validation
// alike, each with its line, column and key, sorted by position; a syntax
// error is one problem at its line.
func TestProblemsTyped(t *testing.T) {
	_, err := Parse([]byte("node:\n  max_associations: 0\n  colour: blue\nseries:\n  timeout: soon\njobs:\n  workers: many\n"), "x.yaml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *conf.Error: %v", err)
	}
	want := []Problem{{2, 3, "node.max_associations", "must be at least 1"}, {3, 3, "node.colour", "unknown key"},
		{5, 3, "series.timeout", `"soon" is not a duration (like 30s or 5m)`}}
	if len(ce.Problems) != 4 || !slices.Equal(ce.Problems[:3], want) || ce.Problems[3].Line != 7 || ce.Problems[3].Path != "jobs.workers" {
		t.Errorf("problems:\n%+v\nwant %+v and jobs.workers at line 7", ce.Problems, want)
	}
	if got := ce.Problems[1].String(); got != "line 3:3: node.colour: unknown key" {
		t.Errorf("String() = %q", got)
	}
	if !strings.HasPrefix(err.Error(), "x.yaml: line 2:3: node.max_associations: ") || strings.Count(err.Error(), "\n") != 3 {
		t.Errorf("Error():\n%v", err)
	}
	_, err = Parse([]byte("node:\n  ae_title: [A\n  listen: x\n"), "y.yaml")
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Line == 0 || !strings.Contains(ce.Problems[0].Msg, "YAML syntax") {
		t.Errorf("syntax error: %#v", err)
	}
}

// TestMRD: the MRD listener is off by default and allows loopback only;
// a bad address, network, unknown destination and limits are problems at
// their lines.
func TestMRD(t *testing.T) {
	m := Default().MRD
	if m.Listen != "" || !slices.Equal(m.AllowedNetworks, []string{"127.0.0.0/8", "::1"}) || len(m.Destinations) != 0 ||
		m.MaxSessions != 4 || m.MaxBytes != 4<<30 || m.Timeout != Duration(30*time.Minute) {
		t.Errorf("defaults %+v", m)
	}
	if nets := m.Networks(); len(nets) != 2 || !nets[0].Contains(netip.MustParseAddr("127.0.0.1")) || nets[1].Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("networks %v", nets)
	}
	c, err := Parse([]byte("destinations:\n  - {name: pacs, ae_title: PACS, host: pacs.example.org, port: 104}\nmrd:\n  listen: 127.0.0.1:9002\n  allowed_networks: [10.0.0.0/8]\n  destinations: [pacs]\n"), "x.yaml")
	if err != nil || c.MRD.Listen != "127.0.0.1:9002" || !slices.Equal(c.MRD.Destinations, []string{"pacs"}) || !slices.Equal(c.MRD.AllowedNetworks, []string{"10.0.0.0/8"}) {
		t.Fatalf("%v %+v", err, c)
	}
	_, err = Parse([]byte("mrd:\n  listen: nowhere\n  allowed_networks: [10.0.0.0/33]\n  destinations: [pacs, folder, folder]\n  max_sessions: 0\n  max_bytes: 1KiB\n  timeout: 10ms\n"), "x.yaml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *conf.Error: %v", err)
	}
	want := []Problem{{2, 3, "mrd.listen", `"nowhere" is not host:port`}, {3, 3, "mrd.allowed_networks", `"10.0.0.0/33" is not an address or CIDR prefix`},
		{4, 3, "mrd.destinations", `"pacs" is not a configured destination`}, {4, 3, "mrd.destinations", `"folder" is named twice`},
		{5, 3, "mrd.max_sessions", "must be at least 1"}, {6, 3, "mrd.max_bytes", "must be at least 1MiB"}, {7, 3, "mrd.timeout", "must be at least 1s"}}
	if !slices.Equal(ce.Problems, want) {
		t.Errorf("problems:\n%+v\nwant %+v", ce.Problems, want)
	}
}
