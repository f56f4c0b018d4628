package gateway

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
	"github.com/tweedie-recon/tweedie/rawdata/mrd/stream"
)

// rampRunner is a test reconstructor: for a raw-data MR input it writes a
// derived series whose pixel (slice s, row r, column c) is r·cols + c, so
// that the image sent back shows where each DICOM pixel went.
var rampRunner Runner = RunnerFunc(func(ctx context.Context, job Job, inputs []string, outDir string) ([]string, error) {
	var outs []string
	for _, in := range inputs {
		k, err := rawdata.ReadMR(in)
		if err != nil {
			return nil, Permanent(err)
		}
		rows, cols := k.ImageRows, k.ImageCols
		vol := make([]float32, k.Slices*rows*cols)
		for i := range vol {
			vol[i] = float32(i % (rows * cols))
		}
		series := DeriveUID(k.SeriesInstanceUID, job.ID, "series")
		p, err := derived.Write(outDir, &derived.Series{Source: k.Header, Volume: vol, Slices: k.Slices, Rows: rows, Cols: cols,
			SeriesInstanceUID: series, SeriesNumber: 1001, SeriesDescription: "ramp",
			SOPInstanceUID: func(i int) string { return rawdata.DeriveUID(series, fmt.Sprint(i)) }}, derived.Options{})
		if err != nil {
			return nil, err
		}
		outs = append(outs, p...)
	}
	return outs, nil
})

func mrdDial(t *testing.T, addr string, send func(e *stream.Encoder) error) []*stream.Message {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	go func() {
		send(stream.NewEncoder(c))
	}()
	var out []*stream.Message
	d := stream.NewDecoder(c, stream.Limits{})
	for {
		m, err := d.Next()
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Logf("reading replies: %v", err)
			}
			return out
		}
		out = append(out, m)
	}
}

// TestMRDSession: an in-process node with mrd.listen. The generator's
// phantom streamed with config "ramp-rule" (a routing rule whose
// reconstruct action names the test reconstructor) goes into the spool as
// a raw-data series from calling AE "MRD", is routed by the session's
// choice to a job with mrd.destinations, and comes back as one float
// image whose pixels are the derived image's with x along the DICOM rows
// (the readout); the derived series also reaches the folder destination.
// Config "identity" and unknown names get ERROR; a panic in a session
// ends that session only, audited.
func TestMRDSession(t *testing.T) {
	peers.Need(t, peers.MRDGenerator)
	out := t.TempDir()
	c := testConfig(t, fmt.Sprintf(`destinations:
  - {name: results, type: folder, path: %s}
  - {name: other, type: folder, path: %s}
mrd:
  listen: 127.0.0.1:0
  destinations: [results]
  timeout: 60s
routing:
  rules:
    - name: ramp-rule
      match: {SeriesInstanceUID: {equals: "9.9.9"}}
      actions: [{reconstruct: {reconstructor: ramp, destinations: [other]}}]
  fallback: [{discard: {}}]
`, out, t.TempDir()), map[string]Runner{"ramp": rampRunner})
	tn := startNode(t, c, map[string]Runner{"ramp": rampRunner})
	addr := tn.MRDAddr().String()

	gen := peers.MRDPhantom(t, "-m", "32", "-c", "2")
	f, err := mrd.Open(gen, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stream1 := func(config string) func(e *stream.Encoder) error {
		return func(e *stream.Encoder) error {
			if err := e.WriteConfigFile(config); err != nil {
				return err
			}
			if err := e.WriteHeader(f.Header.Raw); err != nil {
				return err
			}
			for i := 0; i < f.Len(); i++ {
				h, _ := f.Head(i)
				data, _ := f.Data(i, nil)
				if err := e.WriteAcquisition(&mrd.Acquisition{Head: h, Data: data}); err != nil {
					return err
				}
			}
			return e.WriteClose()
		}
	}

	for _, name := range []string{"identity", "nope"} {
		r := mrdDial(t, addr, stream1(name))
		if len(r) != 2 || r[0].ID != stream.IDText || !strings.HasPrefix(r[0].Text, fmt.Sprintf("ERROR config %q: unknown: not a reconstructor", name)) ||
			!strings.Contains(r[0].Text, "ramp") || r[1].ID != stream.IDClose {
			t.Errorf("config %s: replies %+v", name, r)
		}
	}

	// A panic in a session ends that session only, audited.
	mrdTestHook = func(c stream.Config) {
		if c.Name == "boom" {
			panic("test panic")
		}
	}
	t.Cleanup(func() { mrdTestHook = nil })
	if r := mrdDial(t, addr, stream1("boom")); len(r) != 0 {
		t.Errorf("panicking session: replies %+v", r)
	}

	r := mrdDial(t, addr, stream1("ramp-rule"))
	if len(r) != 2 || r[0].ID != stream.IDImage || r[1].ID != stream.IDClose {
		t.Fatalf("ramp-rule: replies %+v", r)
	}
	im := r[0].Image
	nx, ny := int(im.Head.MatrixSize[0]), int(im.Head.MatrixSize[1])
	pix, err := im.Float32s()
	if err != nil || nx != 32 || ny != 32 {
		t.Fatalf("image %v: %v", im.Head.MatrixSize, err)
	}
	for x := 0; x < nx; x++ {
		for y := 0; y < ny; y++ {
			// DICOM row x, column y holds x·cols + y (stored as 16 bits
			// with a value scale: within a step of 1023/65535)
			if want := float32(x*ny + y); math.Abs(float64(pix[y*nx+x]-want)) > 0.05 {
				t.Fatalf("pixel x=%d y=%d is %v, want %v", x, y, pix[y*nx+x], want)
			}
		}
	}
	// Placed as the derived image is (mrdGeometry): the generator's
	// acquisitions carry no directions, so an axial slice centred on the
	// isocentre, x (the readout) along posterior, y along left, slice_dir
	// read × phase, the field of view the header's reconSpace.
	fov := f.Header.Encoding[0].ReconSpace.FOV
	hd := im.Head
	if hd.FieldOfView != [3]float32{float32(fov.X), float32(fov.Y), float32(fov.Z)} || hd.Position != [3]float32{} ||
		hd.ReadDir != [3]float32{0, 1, 0} || hd.PhaseDir != [3]float32{1, 0, 0} || hd.SliceDir != [3]float32{0, 0, -1} {
		t.Errorf("image field of view %v (want %+v), position %v, read %v, phase %v, slice %v", hd.FieldOfView, fov, hd.Position, hd.ReadDir, hd.PhaseDir, hd.SliceDir)
	}
	waitFor(t, 10*time.Second, "the derived series in the mrd destination", func() bool { return countFiles(out, "*.dcm") == 1 })

	// Two volumes (the generator's 2× acceleration writes two interleaved
	// repetitions): two raw-data series, two jobs, an image from each.
	f2, err := mrd.Open(peers.MRDPhantom(t, "-m", "32", "-c", "2", "-a", "2", "-w", "8"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	f1 := f
	f = f2
	r2 := mrdDial(t, addr, stream1("ramp"))
	f = f1
	if len(r2) != 3 || r2[0].ID != stream.IDImage || r2[1].ID != stream.IDImage || r2[2].ID != stream.IDClose ||
		r2[0].Image.Head.ImageSeriesIndex != 0 || r2[1].Image.Head.ImageSeriesIndex != 1 || r2[1].Image.Head.ImageIndex != 2 {
		t.Fatalf("two volumes: replies %+v", r2)
	}
	waitFor(t, 10*time.Second, "both derived series in the mrd destination", func() bool { return countFiles(out, "*.dcm") == 3 })
	ap := filepath.Join(tn.state, "audit.log")
	waitFor(t, 5*time.Second, "five session ends", func() bool { return len(auditEvents(t, ap, "mrd-session-ended")) == 5 })
	recv := auditEvents(t, ap, "instances-received")
	if len(recv) != 2 || recv[0]["source_ae"] != "MRD" || fmt.Sprint(recv[1]["series_uids"]) == fmt.Sprint(recv[0]["series_uids"]) || recv[1]["instances"] != float64(2) {
		t.Errorf("instances-received %v", recv)
	}
	routed := auditEvents(t, ap, "series-routed")
	if len(routed) != 3 || fmt.Sprint(routed[0]["rules_matched"]) != "[ramp-rule]" || fmt.Sprint(routed[2]["rules_matched"]) != "[mrd:ramp]" {
		t.Errorf("series-routed %v", routed)
	}
	fin := auditEvents(t, ap, "job-finished")
	if len(fin) != 3 || fmt.Sprint(fin[0]["destinations"]) != "[results]" {
		t.Errorf("job-finished %v", fin)
	}
	ends := map[string]map[string]any{} // by config
	for _, e := range auditEvents(t, ap, "mrd-session-ended") {
		ends[fmt.Sprint(e["config"])] = e
	}
	ok, bad, boom := ends[`config "ramp-rule"`], ends[`config "nope"`], ends[`config "boom"`]
	if ok["outcome"] != float64(OutcomeSuccess) || ok["images_out"] != float64(1) || bad["outcome"] != float64(OutcomeMinorFailure) ||
		boom["outcome"] != float64(OutcomeSerious) || !strings.Contains(fmt.Sprint(boom["description"]), "panic in the MRD session: test panic") {
		t.Errorf("session ends %v", ends)
	}
	if n := countFiles(filepath.Join(tn.state, "mrd", "routes"), "*"); n != 0 {
		t.Errorf("%d routing records left", n)
	}
	if n := countFiles(filepath.Join(tn.state, "mrd", "results"), "*"); n != 0 {
		t.Errorf("%d results folders left", n)
	}
}

// TestMRDAllowlist: a client outside mrd.allowed_networks is closed at
// once and audited as a Security Alert.
func TestMRDAllowlist(t *testing.T) {
	c := testConfig(t, "mrd:\n  listen: 127.0.0.1:0\n  allowed_networks: [10.0.0.0/8]\n")
	tn := startNode(t, c, nil)
	conn, err := net.Dial("tcp", tn.MRDAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("read %d bytes, %v; want the connection closed", n, err)
	}
	conn.Close()
	ap := filepath.Join(tn.state, "audit.log")
	waitFor(t, 5*time.Second, "the refusal audited", func() bool { return len(auditEvents(t, ap, "mrd-connection-refused")) == 1 })
	if ev := auditEvents(t, ap, "mrd-connection-refused")[0]; !strings.Contains(fmt.Sprint(ev["description"]), "allowed_networks") {
		t.Errorf("event %v", ev)
	}
}

// TestMRDMaxSessions: beyond mrd.max_sessions a client is told so with an
// ERROR text and CLOSE, audited; when the session in progress ends, the
// next one is served.
func TestMRDMaxSessions(t *testing.T) {
	c := testConfig(t, "mrd:\n  listen: 127.0.0.1:0\n  max_sessions: 1\n")
	tn := startNode(t, c, nil)
	addr := tn.MRDAddr().String()
	hold, err := net.Dial("tcp", addr) // a session waiting for its config
	if err != nil {
		t.Fatal(err)
	}
	ap := filepath.Join(tn.state, "audit.log")
	waitFor(t, 5*time.Second, "the first session", func() bool { return len(auditEvents(t, ap, "mrd-session-started")) == 1 })
	r := mrdDial(t, addr, func(e *stream.Encoder) error { return e.WriteConfigFile("nope") })
	if len(r) != 2 || r[0].ID != stream.IDText || !strings.HasPrefix(r[0].Text, "ERROR too many MRD sessions") || r[1].ID != stream.IDClose {
		t.Errorf("second client: replies %+v", r)
	}
	if ev := auditEvents(t, ap, "mrd-connection-refused"); len(ev) != 1 || !strings.Contains(fmt.Sprint(ev[0]["description"]), "max_sessions") {
		t.Errorf("refusal events %v", ev)
	}
	hold.Close()
	waitFor(t, 5*time.Second, "the first session's end", func() bool { return len(auditEvents(t, ap, "mrd-session-ended")) == 1 })
	// (the slot is given back just after the event is written)
	for i := 0; i < 50; i++ {
		r = mrdDial(t, addr, func(e *stream.Encoder) error {
			if err := e.WriteConfigFile("nope"); err != nil {
				return err
			}
			return e.WriteClose()
		})
		if len(r) == 0 || r[0].ID != stream.IDText || !strings.Contains(r[0].Text, "too many") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(r) != 2 || r[0].ID != stream.IDText || !strings.Contains(r[0].Text, "unknown") {
		t.Errorf("third client: replies %+v", r)
	}
}

// TestMRDGeometry: an oblique, non-square derived image (4 rows × 6
// columns, spacing 1.5 mm between rows and 2 mm between columns, 3 mm
// thick) comes back with ISMRMRD's geometry: read_dir the column cosine
// (x is the DICOM row index), phase_dir the row cosine, slice_dir read ×
// phase, field_of_view 6 × 12 × 3 mm and position the image's centre,
// 1.5 rows and 2.5 columns from the first voxel.
func TestMRDGeometry(t *testing.T) {
	c, s := math.Cos(0.3), math.Sin(0.3)
	row, col := [3]float64{c, s, 0}, [3]float64{0, 0, -1} // along a row, down a column
	first := [3]float64{10, -20, 30}
	var src rawdata.Header
	src.Modality, src.StudyInstanceUID, src.PatientID = "MR", "2.25.1", "P"
	src.Orientation = [6]float64{row[0], row[1], row[2], col[0], col[1], col[2]}
	src.Positions, src.PixelSpacing, src.SliceThickness = [][3]float64{first}, [2]float64{1.5, 2}, 3
	paths, err := derived.Write(t.TempDir(), &derived.Series{Source: src, Volume: make([]float32, 24), Slices: 1, Rows: 4, Cols: 6,
		SeriesInstanceUID: "2.25.2", SOPInstanceUID: func(int) string { return "2.25.3" }, SeriesNumber: 1001, SeriesDescription: "t"}, derived.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var g stream.ImageHeader
	if !mrdGeometry(paths[0], &g) {
		t.Fatal("no geometry read")
	}
	f32 := func(v [3]float64) [3]float32 { return [3]float32{float32(v[0]), float32(v[1]), float32(v[2])} }
	centre := [3]float64{}
	for i := range centre {
		centre[i] = first[i] + 1.5*1.5*col[i] + 2.5*2*row[i]
	}
	slice := [3]float64{col[1]*row[2] - col[2]*row[1], col[2]*row[0] - col[0]*row[2], col[0]*row[1] - col[1]*row[0]}
	near := func(a, b [3]float32) bool {
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-4 {
				return false
			}
		}
		return true
	}
	if !near(g.ReadDir, f32(col)) || !near(g.PhaseDir, f32(row)) || !near(g.SliceDir, f32(slice)) ||
		!near(g.FieldOfView, [3]float32{6, 12, 3}) || !near(g.Position, f32(centre)) {
		t.Errorf("read %v phase %v slice %v fov %v position %v; want read %v phase %v slice %v fov [6 12 3] position %v",
			g.ReadDir, g.PhaseDir, g.SliceDir, g.FieldOfView, g.Position, col, row, slice, centre)
	}
}
