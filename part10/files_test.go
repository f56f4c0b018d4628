package part10

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

// dataDir is the shared folder of sample DICOM files, ../shared/data/dicom
// beside the checkout (internal/shareddata); the test fails without it.
func dataDir(t testing.TB) string {
	t.Helper()
	return shareddata.Path(t, "dicom")
}

func sampleFiles(t testing.TB) []string {
	t.Helper()
	dir := dataDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".dcm") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no .dcm files under %s", dir)
	}
	return files
}

type sample struct {
	path string
	meta Meta
	data []byte // the data set after the meta information
}

func loadSample(t testing.TB, path string) sample {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	m, err := ReadMeta(br)
	if err != nil {
		t.Fatalf("%s: ReadMeta: %v", path, err)
	}
	var rest bytes.Buffer
	if _, err := rest.ReadFrom(br); err != nil {
		t.Fatal(err)
	}
	return sample{path: path, meta: m, data: rest.Bytes()}
}

func rel(t testing.TB, p string) string {
	r, err := filepath.Rel(dataDir(t), p)
	if err != nil {
		return p
	}
	return r
}

func TestReadMetaSamples(t *testing.T) {
	_, haveDump := exec.LookPath("dcmdump")
	for _, f := range sampleFiles(t) {
		t.Run(rel(t, f), func(t *testing.T) {
			s := loadSample(t, f)
			ts, ok := LookupTransferSyntax(s.meta.TransferSyntaxUID)
			if !ok {
				t.Fatalf("unknown transfer syntax %q", s.meta.TransferSyntaxUID)
			}
			if s.meta.MediaStorageSOPClassUID == "" || s.meta.MediaStorageSOPInstanceUID == "" || s.meta.ImplementationClassUID == "" {
				t.Errorf("incomplete meta %+v", s.meta)
			}
			// The reader must be left at the data set: its SOP UIDs
			// match the meta information.
			class, inst, err := DataSetInfo(bytes.NewReader(s.data), ts.UID)
			if err != nil {
				t.Fatalf("DataSetInfo: %v", err)
			}
			if class != s.meta.MediaStorageSOPClassUID || inst != s.meta.MediaStorageSOPInstanceUID {
				t.Errorf("DataSetInfo = %q, %q; meta has %q, %q", class, inst, s.meta.MediaStorageSOPClassUID, s.meta.MediaStorageSOPInstanceUID)
			}
			if haveDump != nil {
				return
			}
			want := dcmdumpMeta(t, f)
			got := map[string]string{
				"0002,0002": s.meta.MediaStorageSOPClassUID,
				"0002,0003": s.meta.MediaStorageSOPInstanceUID,
				"0002,0010": s.meta.TransferSyntaxUID,
				"0002,0012": s.meta.ImplementationClassUID,
				"0002,0013": s.meta.ImplementationVersionName,
				"0002,0016": s.meta.SourceApplicationEntityTitle,
			}
			for k, g := range got {
				if w := want[k]; w != g {
					t.Errorf("(%s) = %q, dcmdump says %q", k, g, w)
				}
			}
		})
	}
}

var metaLine = regexp.MustCompile(`^\((0002,[0-9a-f]{4})\) [A-Z]{2} \[(.*)\]`)

// dcmdumpMeta returns the bracketed string values of the meta header as
// printed by DCMTK's dcmdump.
func dcmdumpMeta(t *testing.T, path string) map[string]string {
	out, err := exec.Command("dcmdump", "-q", "-M", "-Un", "+P", "0002,0002", "+P", "0002,0003", "+P", "0002,0010", "+P", "0002,0012", "+P", "0002,0013", "+P", "0002,0016", path).Output()
	if err != nil {
		t.Fatalf("dcmdump %s: %v", path, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if g := metaLine.FindStringSubmatch(l); g != nil {
			m[g[1]] = g[2]
		}
	}
	return m
}

var dcmconvFlag = map[string]string{
	ImplicitVRLittleEndian:         "+ti",
	ExplicitVRLittleEndian:         "+te",
	ExplicitVRBigEndian:            "+tb",
	DeflatedExplicitVRLittleEndian: "+td",
}

var tsShort = map[string]string{
	ImplicitVRLittleEndian:         "implicit",
	ExplicitVRLittleEndian:         "explicit",
	ExplicitVRBigEndian:            "big",
	DeflatedExplicitVRLittleEndian: "deflated",
}

// nativeSamples returns the sample files in a native transfer syntax.
func nativeSamples(t testing.TB) []sample {
	var out []sample
	for _, f := range sampleFiles(t) {
		s := loadSample(t, f)
		if IsUncompressed(s.meta.TransferSyntaxUID) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no sample in a native transfer syntax")
	}
	return out
}

// transcodeFile writes data (in transfer syntax from) as a Part 10 file in
// transfer syntax to, through WriteMeta and Transcode.
func transcodeFile(t testing.TB, m Meta, data []byte, from, to, path string) []byte {
	t.Helper()
	var ds bytes.Buffer
	if err := Transcode(&ds, bytes.NewReader(data), from, to); err != nil {
		t.Fatalf("Transcode %s -> %s: %v", tsShort[from], tsShort[to], err)
	}
	m.TransferSyntaxUID = to
	var file bytes.Buffer
	if err := WriteMeta(&file, m); err != nil {
		t.Fatal(err)
	}
	file.Write(ds.Bytes())
	if path != "" {
		if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ds.Bytes()
}

// chains lists the orders in which a data set is passed through the native
// transfer syntaxes, each starting from the sample's own syntax.
var chains = [][]string{
	{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian},
	{ExplicitVRBigEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian},
	{DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian},
	{ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian},
}

// TestTranscodeAgainstDCMTK passes every native sample through chains of
// conversions (implicit -> explicit -> big -> deflated -> implicit and
// others) and compares, after each step, DCMTK's dump of our file with its
// dump of the file DCMTK's dcmconv makes by the same chain of conversions.
func TestTranscodeAgainstDCMTK(t *testing.T) {
	for _, tool := range []string{"dcmdump", "dcmconv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("DCMTK's %s is not installed", tool)
		}
	}
	tmp := t.TempDir()
	for _, s := range nativeSamples(t) {
		t.Run(rel(t, s.path), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(tmp, strings.NewReplacer("/", "_", ".", "_").Replace(rel(t, s.path)))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for ci, chain := range chains {
				// Our files and DCMTK's go through the same chain, so
				// that both lose the same VRs in implicit VR.
				data, from := s.data, s.meta.TransferSyntaxUID
				refPath := s.path
				for step, to := range chain {
					if to == from {
						continue
					}
					p := filepath.Join(dir, fmt.Sprintf("chain%d-step%d-%s.dcm", ci, step, tsShort[to]))
					data = transcodeFile(t, s.meta, data, from, to, p)
					from = to
					rp := filepath.Join(dir, fmt.Sprintf("chain%d-step%d-%s-dcmtk.dcm", ci, step, tsShort[to]))
					if out, err := exec.Command("dcmconv", "-dc", dcmconvFlag[to], refPath, rp).CombinedOutput(); err != nil {
						t.Fatalf("dcmconv %s %s: %v\n%s", dcmconvFlag[to], refPath, err, out)
					}
					refPath = rp
					if diff := diffDumps(dcmdumpDataSet(t, rp), dcmdumpDataSet(t, p)); diff != "" {
						t.Fatalf("chain %d step %d (%s): dcmdump of %s differs from that of %s:\n%s", ci, step, tsShort[to], p, rp, diff)
					}
				}
			}
		})
	}
}

// dcmdumpDataSet dumps the data set of a file with every value printed in
// full, normalised so that equal content in different transfer syntaxes
// prints the same:
//   - the meta information, comments, Group Length (gggg,0000), Length to
//     End (0008,0001) and delimitation items are left out;
//   - sequence and item lines lose their length notes;
//   - UN and OW values are printed as OB, byte by byte in Little Endian
//     order (an implicit VR private element becomes UN where DCMTK's
//     private dictionary knows its VR, and Pixel Data that was OB in an
//     explicit VR file becomes OW after a trip through implicit VR, as
//     PS3.5 Annex A.1 says);
//   - white space is collapsed.
func dcmdumpDataSet(t *testing.T, path string) string {
	out, err := exec.Command("dcmdump", "-q", "+L", "-Un", "+uc", "+Qo", path).Output()
	if err != nil {
		t.Fatalf("dcmdump %s: %v", path, err)
	}
	var b strings.Builder
	inData := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "# Dicom-Data-Set") {
			inData = true
			continue
		}
		trim := strings.TrimLeft(l, " ")
		indent := l[:len(l)-len(trim)]
		if !inData || trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if len(trim) < 14 || trim[0] != '(' {
			b.WriteString(l + "\n")
			continue
		}
		tagStr, vrStr, rest := trim[1:10], trim[12:14], trim[14:]
		switch {
		case strings.HasSuffix(tagStr, ",0000"), tagStr == "fffe,e00d", tagStr == "fffe,e0dd", tagStr == "0008,0001":
			continue
		case vrStr == "SQ" || tagStr == "fffe,e000":
			b.WriteString(indent + trim[:14] + "\n")
			continue
		}
		value, comment := rest, ""
		if i := strings.LastIndex(rest, " # "); i >= 0 {
			value, comment = rest[:i], rest[i+3:]
		}
		value = strings.TrimSpace(value)
		comment = strings.Join(strings.Fields(comment), " ")
		switch vrStr {
		case "UN":
			vrStr = "OB"
		case "OW":
			vrStr = "OB"
			if !strings.HasPrefix(value, "(") {
				var nb strings.Builder
				for i, w := range strings.Split(value, "\\") {
					if i > 0 {
						nb.WriteString("\\")
					}
					if len(w) == 4 {
						nb.WriteString(w[2:] + "\\" + w[:2])
					} else {
						nb.WriteString(w)
					}
				}
				value = nb.String()
			}
		}
		fmt.Fprintf(&b, "%s(%s) %s %s # %s\n", indent, tagStr, vrStr, value, comment)
	}
	return b.String()
}

var dumpLine = regexp.MustCompile(`^( *)\(([0-9a-f]{4}),([0-9a-f]{4})\) ([A-Za-z?]{2}) (.*) # (\d+),`)

// sameLine compares two normalised dump lines. A private data element
// (odd group, element above 00FF) that one file has as UN (printed OB) and
// the other with the VR of DCMTK's private dictionary is compared by
// length only: its VR was lost in implicit VR.
func sameLine(w, g string) bool {
	if w == g {
		return true
	}
	mw, mg := dumpLine.FindStringSubmatch(w), dumpLine.FindStringSubmatch(g)
	if mw == nil || mg == nil {
		return false
	}
	if mw[1] != mg[1] || mw[2] != mg[2] || mw[3] != mg[3] || mw[6] != mg[6] {
		return false
	}
	group, elem := mw[2], mw[3]
	private := strings.ContainsAny(group[3:], "13579bdf") && elem > "00ff"
	return private && (mw[4] == "OB") != (mg[4] == "OB")
}

// diffDumps returns the first differing lines of two dumps, or "".
func diffDumps(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !sameLine(w, g) {
			fmt.Fprintf(&b, "line %d:\n  dcmconv: %.200s\n  ours:    %.200s\n", i+1, w, g)
			if n++; n == 5 {
				break
			}
		}
	}
	return b.String()
}
