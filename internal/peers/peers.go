// Package peers starts real DICOM peers from Debian packages (DCMTK's
// storescp, Orthanc) on free loopback ports for tests, and compares data
// sets with DCMTK's dcmdump, an implementation independent of tweedie's.
package peers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

// Env is the environment for DCMTK and Orthanc: without TCP_NODELAY each
// C-STORE waits on Nagle's algorithm for ~40 ms.
func Env() []string { return append(os.Environ(), "TCP_NODELAY=1") }

// Need skips the test when a tool is missing, naming the package to install.
// scripts/install-deps.sh installs them all; CI runs it first.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: run scripts/install-deps.sh", tool)
			}
			t.Skipf("%s not found: run scripts/install-deps.sh", tool)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort polls until something listens on 127.0.0.1:port.
func WaitPort(t testing.TB, port int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d after %s", port, within)
}

// Start runs a command for the duration of the test, its output in the log
// on failure.
func Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(out.String(), 4000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Storescp starts DCMTK's storescp as AE "STORESCP" writing into dir, with
// extra arguments (e.g. "+xi" to accept only implicit VR). It returns the port.
func Storescp(t testing.TB, dir string, extra ...string) int {
	t.Helper()
	Need(t, "storescp")
	port := FreePort(t)
	args := append([]string{"-aet", "STORESCP", "-od", dir, "-uf"}, extra...)
	args = append(args, fmt.Sprint(port))
	Start(t, "storescp", args...)
	WaitPort(t, port, 10*time.Second)
	return port
}

// Orthanc is a running Orthanc with a temporary configuration.
type Orthanc struct {
	DICOMPort int
	HTTPPort  int
	AET       string
	Dir       string
}

// StartOrthanc starts Orthanc on free ports (it listens on all interfaces,
// so the ports are unusual ones) with its storage in a temporary folder.
func StartOrthanc(t testing.TB, knownAEs map[string]string) *Orthanc {
	t.Helper()
	Need(t, "Orthanc")
	o := &Orthanc{DICOMPort: FreePort(t), HTTPPort: FreePort(t), AET: "ORTHANC", Dir: t.TempDir()}
	mods := map[string]any{}
	for ae, hostport := range knownAEs {
		h, p, _ := net.SplitHostPort(hostport)
		var port int
		fmt.Sscan(p, &port)
		mods[ae] = []any{ae, h, port}
	}
	cfg := map[string]any{
		"Name": "tweedie-test", "StorageDirectory": filepath.Join(o.Dir, "db"), "IndexDirectory": filepath.Join(o.Dir, "db"),
		"DicomAet": o.AET, "DicomPort": o.DICOMPort, "HttpPort": o.HTTPPort, "RemoteAccessAllowed": false,
		"AuthenticationEnabled": false, "DicomCheckCalledAet": true, "DicomModalities": mods,
		"Plugins": []string{}, "StableAge": 1, "DicomAlwaysAllowStore": true, "DicomAlwaysAllowEcho": true,
		"UnknownSopClassAccepted": true, "HttpServerEnabled": true, "StorageCompression": false,
		"DicomScpTimeout": 30, "ConcurrentJobs": 1, "LimitFindResults": 0,
	}
	b, _ := json.MarshalIndent(cfg, "", " ")
	path := filepath.Join(o.Dir, "orthanc.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	Start(t, "Orthanc", path)
	WaitPort(t, o.HTTPPort, 30*time.Second)
	WaitPort(t, o.DICOMPort, 30*time.Second)
	return o
}

// Get fetches a REST resource into v (JSON) or returns raw bytes when v is nil.
func (o *Orthanc) Get(t testing.TB, path string, v any) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", o.HTTPPort, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return b
}

// LookupInstance returns Orthanc's ID of the instance with this SOP Instance
// UID, or "" when Orthanc does not hold it.
func (o *Orthanc) LookupInstance(t testing.TB, sopInstanceUID string) string {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/tools/lookup", o.HTTPPort), "text/plain", strings.NewReader(sopInstanceUID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hits []struct{ ID, Type string }
	if err := json.NewDecoder(resp.Body).Decode(&hits); err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.Type == "Instance" {
			return h.ID
		}
	}
	return ""
}

var (
	reComment = regexp.MustCompile(` +#.*$`)
	reLength  = regexp.MustCompile(`with (explicit|undefined) length`)
)

// Dump returns a data set's content as DCMTK's dcmdump prints it, without
// the file meta information and without what legitimately differs between
// transfer syntaxes (group lengths, sequence length encoding, delimiters):
// two files with equal dumps hold the same elements with the same values.
func Dump(t testing.TB, path string) string {
	t.Helper()
	Need(t, "dcmdump")
	out, err := exec.Command("dcmdump", "-q", "+L", "-Un", "+E", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, tail(string(out), 2000))
	}
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "(0002,") || strings.HasPrefix(l, "(fffc,fffc)") ||
			strings.HasPrefix(l, "(fffe,e00d)") || strings.HasPrefix(l, "(fffe,e0dd)") {
			continue
		}
		if len(l) > 11 && l[0] == '(' && l[5:11] == ",0000)" { // group length
			continue
		}
		l = reComment.ReplaceAllString(l, "")
		l = reLength.ReplaceAllString(l, "")
		l = normaliseVR(l)
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// normaliseVR removes what implicit VR cannot carry: an unknown private
// element prints as "??" where explicit VR says UN, and pixel data that
// implicit VR reads as OW words is the same little-endian bytes as OB.
func normaliseVR(l string) string {
	if len(l) < 15 || l[11] != ' ' {
		return l
	}
	vr, rest := l[12:14], l[14:]
	switch vr {
	case "??":
		vr = "UN"
	case "OW":
		vr = "OB"
		var b strings.Builder
		for i, w := range strings.Split(strings.TrimSpace(rest), "\\") {
			if len(w) != 4 {
				return l
			}
			if i > 0 {
				b.WriteString("\\")
			}
			b.WriteString(w[2:4] + "\\" + w[0:2])
		}
		rest = " " + b.String()
	}
	return l[:12] + vr + rest
}

// DiffDumpsIgnoringVR is DiffDumps for a copy in Implicit VR, which keeps
// values but not value representations: a non-conformant VR in the original
// (SH where the dictionary says CS) comes back as the dictionary's.
func DiffDumpsIgnoringVR(a, b string) string {
	return DiffDumps(dropVR(a), dropVR(b))
}

func dropVR(d string) string {
	lines := strings.Split(d, "\n")
	for i, l := range lines {
		if len(l) > 15 && l[11] == ' ' {
			lines[i] = l[:12] + "VR " + unknownAsText(strings.TrimSpace(l[14:]))
		}
	}
	return strings.Join(lines, "\n")
}

var reHexBytes = regexp.MustCompile(`^([0-9a-f]{2}\\)*[0-9a-f]{2}$`)

// unknownAsText shows a UN value whose bytes are printable text the way
// dcmdump shows the same bytes under a text VR.
func unknownAsText(v string) string {
	if !reHexBytes.MatchString(v) {
		return v
	}
	var b []byte
	for _, h := range strings.Split(v, "\\") {
		var x byte
		fmt.Sscanf(h, "%02x", &x)
		if (x < 0x20 || x > 0x7e) && x != 0 {
			return v
		}
		b = append(b, x)
	}
	return "[" + strings.TrimRight(string(b), " \x00") + "]"
}

// DiffDumps describes the first difference between two dumps.
func DiffDumps(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, trunc(x), trunc(y))
		}
	}
	return ""
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// SharedData returns the path of ../shared/data beside the repository (the
// real images of the project), and fails the test when it is absent
// (internal/shareddata).
func SharedData(t testing.TB) string {
	t.Helper()
	return shareddata.Path(t)
}

// DICOMFiles lists the Part 10 files under ../shared/data/dicom.
func DICOMFiles(t testing.TB) []string {
	t.Helper()
	var out []string
	root := filepath.Join(SharedData(t), "dicom")
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".dcm") {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no .dcm files under %s", root)
	}
	return out
}

// Delete removes a resource through the REST API.
func (o *Orthanc) Delete(t testing.TB, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://127.0.0.1:%d%s", o.HTTPPort, path), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("DELETE %s: %s", path, resp.Status)
	}
}
