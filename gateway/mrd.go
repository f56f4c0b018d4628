// The MRD streaming listener (docs/mrd.md, Streaming): Gadgetron clients,
// FIRE/OpenRecon and python-ismrmrd-server's client.py stream raw data to
// serve. A session's acquisitions are not reconstructed on the side: they
// become raw-data DICOM objects (mrd.Wrap, as `wrap mr --ismrmrd` makes
// them) that enter the spool through the Storage SCP's own handler
// (Spool.BeginStore), so that they are journaled, audited, routed and
// queued like any C-STORE series. Only the routing decision is the
// session's: the config name picks a reconstructor, or the reconstruct
// action of a routing rule of that name, with mrd.destinations as the
// destinations. The worker that runs the job links its outputs into a
// folder the session waits on, and the session sends them back as MRD
// images.

package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
	"github.com/tweedie-recon/tweedie/rawdata/mrd/stream"
	"github.com/tweedie-recon/tweedie/rules"
)

// mrdCallingAE is the calling AE title a session's instances are filed
// under (series.json, the rules' association pseudo-attributes, the
// instances-received audit event).
const mrdCallingAE = "MRD"

// mrdRoute is a session's routing decision for one series, kept in
// STATE/mrd/routes/<series UID>.json from before the first instance is
// spooled until its jobs are queued, so that a restart in between routes
// the series the same way.
type mrdRoute struct {
	Config        string            `json:"config"`
	Rule          string            `json:"rule,omitempty"` // the routing rule the config named, if any
	Reconstructor string            `json:"reconstructor"`
	Params        map[string]string `json:"params,omitempty"`
	Destinations  []string          `json:"destinations"`
}

// mrdWait is a session waiting for the job of one of its series.
type mrdWait struct {
	job    chan string    // the job ID, once routed
	status chan JobStatus // the job's outcome
}

func (n *Node) mrdDir(parts ...string) string {
	return filepath.Join(append([]string{n.state, "mrd"}, parts...)...)
}

// mrdResultsDir is where a worker links the outputs of a job a session
// waits for (the folder exists only then).
func mrdResultsDir(stateDir, jobID string) string {
	return filepath.Join(stateDir, "mrd", "results", jobID)
}

// mrdKeepResults links a job's outputs into its results folder when an MRD
// session waits for them (the folder exists); a worker elsewhere, with
// another state folder, finds none and the session says so.
func mrdKeepResults(stateDir string, job Job, outputs []string) error {
	dir := mrdResultsDir(stateDir, job.ID)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	for _, f := range outputs {
		if err := linkOrCopy(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			return fmt.Errorf("MRD results of %s: %w", job.ID, err)
		}
	}
	return syncDir(dir)
}

// mrdOverride returns the session's decision for a series, if one is
// recorded.
func (n *Node) mrdOverride(seriesUID string) (mrdRoute, bool) {
	var r mrdRoute
	if !dimse.ValidUID(seriesUID) {
		return r, false
	}
	err := readJSON(n.mrdDir("routes", seriesUID+".json"), &r)
	return r, err == nil && r.Reconstructor != ""
}

// mrdDecision is the rules' Decision a session's route stands for.
func (r mrdRoute) decision() rules.Decision {
	name := "mrd:" + r.Config
	if r.Rule != "" {
		name = r.Rule
	}
	return rules.Decision{
		Matched: []rules.Outcome{{Rule: name, Why: []string{fmt.Sprintf("MRD session config %q", r.Config)}}},
		Actions: []rules.Action{{Kind: rules.Reconstruct, Reconstructor: r.Reconstructor, Params: r.Params,
			Destinations: r.Destinations, Rule: name}},
	}
}

// mrdRouted is told the jobs of a series routed by a session's decision:
// a session waiting for it gets its job and a results folder.
func (n *Node) mrdRouted(seriesUID string, jobs []Job) {
	n.mu.Lock()
	w := n.mrdSeries[seriesUID]
	n.mu.Unlock()
	if w == nil || len(jobs) == 0 {
		return
	}
	id := jobs[0].ID
	if err := mkdirDurable(mrdResultsDir(n.state, id)); err != nil {
		n.log.Error().Err(err).Str("job", id).Msg("MRD: results folder")
	}
	n.mu.Lock()
	n.mrdJobs[id] = w
	n.mu.Unlock()
	select {
	case w.job <- id:
	default:
	}
}

// mrdOutcome passes a job's outcome to the session waiting for it.
func (n *Node) mrdOutcome(id string, s JobStatus) {
	n.mu.Lock()
	w := n.mrdJobs[id]
	n.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w.status <- s:
	default:
	}
}

// startMRD opens the MRD listener (mrd.listen).
func (n *Node) startMRD() error {
	m := n.cfg.MRD
	if m.Listen == "" {
		return nil
	}
	if err := mkdirDurable(n.mrdDir("routes")); err != nil {
		return fmt.Errorf("mrd: %w", err)
	}
	if err := mkdirDurable(n.mrdDir("results")); err != nil {
		return fmt.Errorf("mrd: %w", err)
	}
	// Results folders of sessions that ended with the last run: nobody
	// waits for them any more.
	if old, err := os.ReadDir(n.mrdDir("results")); err == nil {
		for _, e := range old {
			os.RemoveAll(n.mrdDir("results", e.Name()))
		}
	}
	ln, err := net.Listen("tcp", m.Listen)
	if err != nil {
		return fmt.Errorf("mrd.listen %s: %w", m.Listen, err)
	}
	n.mrdLn = ln
	n.mrdSlots = make(chan struct{}, max(m.MaxSessions, 1))
	n.bg.Add(1)
	go func() { defer n.bg.Done(); n.acceptMRD(ln) }()
	return nil
}

// MRDAddr is the MRD listener's address (nil when none).
func (n *Node) MRDAddr() net.Addr {
	if n.mrdLn == nil {
		return nil
	}
	return n.mrdLn.Addr()
}

func (n *Node) acceptMRD(ln net.Listener) {
	nets := n.cfg.MRD.Networks()
	for {
		c, err := ln.Accept()
		if err != nil {
			if n.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				n.log.Error().Err(err).Msg("MRD listener stopped")
			}
			return
		}
		remote := c.RemoteAddr().String()
		if !allowedAddr(c.RemoteAddr(), nets) {
			n.audit.Event("mrd-connection-refused", AuditSecurityAlert, TypeNodeAuthentication, "E", OutcomeMinorFailure).
				Str("source_address", remote).Str("description", "address outside mrd.allowed_networks").Send()
			n.log.Warn().Str("remote", remote).Msg("MRD connection refused: address outside mrd.allowed_networks")
			c.Close()
			continue
		}
		select {
		case n.mrdSlots <- struct{}{}:
		default:
			n.audit.Event("mrd-connection-refused", AuditSecurityAlert, TypeNodeAuthentication, "E", OutcomeMinorFailure).
				Str("source_address", remote).Str("description", "mrd.max_sessions reached").Send()
			n.bg.Add(1)
			go func() {
				defer n.bg.Done()
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				e := stream.NewEncoder(c)
				if e.WriteText("ERROR too many MRD sessions at once (mrd.max_sessions); try again later") == nil {
					_ = e.WriteClose()
				}
				lingerClose(c)
			}()
			continue
		}
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			defer func() { <-n.mrdSlots }()
			n.mrdSession(c)
		}()
	}
}

// allowedAddr: an empty allowlist allows every address.
func allowedAddr(a net.Addr, nets []netip.Prefix) bool {
	if len(nets) == 0 {
		return true
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lingerClose closes a connection without losing what was written last:
// the write side first, then what the client still sends is read and
// dropped for a moment (closing with unread input resets the connection).
func lingerClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
	c.Close()
}

// mrdSession runs one connection. Whatever the client does — and
// whatever goes wrong in the session, a panic included — ends here, with
// an audit event; the node keeps serving.
func (n *Node) mrdSession(c net.Conn) {
	remote := c.RemoteAddr().String()
	log := n.log.With().Str("mrd_client", remote).Logger()
	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(n.cfg.MRD.Timeout))
	defer cancel()
	h := &mrdHandler{n: n, remote: c.RemoteAddr()}
	n.audit.Event("mrd-session-started", AuditUserAuthentication, TypeLogin, "E", OutcomeSuccess).Str("source_address", remote).Send()
	var sum *stream.Summary
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic in the MRD session: %v", p)
				log.Error().Str("stack", string(debug.Stack())).Msg("MRD session panicked")
			}
		}()
		defer h.cleanup()
		s := &stream.Session{Conn: c, Handler: h, MaxBytes: int64(n.cfg.MRD.MaxBytes), ReplyTimeout: 10 * time.Second}
		sum, err = s.Run(ctx)
	}()
	lingerClose(c)
	if sum == nil {
		sum = &stream.Summary{Config: h.config} // the session panicked
	}
	outcome := OutcomeSuccess
	desc := "images sent"
	if err != nil {
		outcome, desc = OutcomeMinorFailure, err.Error()
		if h.panicked(err) {
			outcome = OutcomeSerious
		}
	}
	n.audit.Event("mrd-session-ended", AuditApplicationActivity, AuditEventID{}, "E", outcome).Str("source_address", remote).
		Str("config", sum.Config.String()).Int("acquisitions", sum.Acquisitions).Int("images_out", sum.ImagesOut).
		Strs("series_uids", h.series).Strs("jobs", h.jobs).Str("error_sent", sum.Error).Str("description", desc).Send()
	ev := log.Info()
	if err != nil {
		ev = log.Warn().Err(err)
	}
	ev.Str("config", sum.Config.String()).Int("acquisitions", sum.Acquisitions).Int("images", sum.ImagesOut).Msg("MRD session ended")
}

// mrdTestHook, when set (by tests), is called with each config: a panic
// there stands for any bug in a session.
var mrdTestHook func(stream.Config)

// mrdHandler is the stream.Handler of one session.
type mrdHandler struct {
	n      *Node
	remote net.Addr
	config stream.Config
	route  mrdRoute
	series []string // the raw-data series it spooled
	jobs   []string
	waits  []*mrdWait
}

func (h *mrdHandler) panicked(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "panic in the MRD session")
}

// Configure takes a config name: a reconstructor the node runs, or a
// routing rule with a reconstruct action (its first), whose destinations
// are replaced by mrd.destinations.
func (h *mrdHandler) Configure(_ context.Context, c stream.Config) error {
	n := h.n
	h.config = c
	if mrdTestHook != nil {
		mrdTestHook(c)
	}
	if c.IsText {
		return errors.New("config text is not supported: send a config name (a reconstructor such as l1-wavelet, or a routing rule)")
	}
	dests := append([]string(nil), n.cfg.MRD.Destinations...)
	if c.Name != "identity" && n.o.Runners[c.Name] != nil {
		h.route = mrdRoute{Config: c.Name, Reconstructor: c.Name, Destinations: dests}
		return nil
	}
	for _, r := range n.rules.Rules() {
		if r.Name != c.Name {
			continue
		}
		for _, a := range r.Actions {
			if a.Kind == rules.Reconstruct {
				h.route = mrdRoute{Config: c.Name, Rule: r.Name, Reconstructor: a.Reconstructor, Params: a.Params, Destinations: dests}
				return nil
			}
		}
		return errors.New("the routing rule of that name has no reconstruct action")
	}
	var names []string
	for k := range n.o.Runners {
		if k != "identity" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return fmt.Errorf("unknown: not a reconstructor of this node (%s) nor a routing rule with a reconstruct action", strings.Join(names, ", "))
}

// Reconstruct wraps the acquisitions into raw-data objects, puts them
// into the spool as the Storage SCP does, waits for their jobs and sends
// each series' derived images, in series order, as soon as its job (and
// those of the series before it) is done: a session of several
// repetitions or contrasts gets the first before the last is
// reconstructed. The slices of one series come together, as the
// reconstructors return a series at once.
func (h *mrdHandler) Reconstruct(ctx context.Context, req *stream.Request, send func(*stream.Image) error) error {
	n := h.n
	if n.spool == nil {
		return errors.New("this node does not spool (a worker)")
	}
	ks, rep, err := mrd.Wrap(req.Header, req.Acquisitions, mrd.WrapOptions{})
	if err != nil {
		return err
	}
	n.log.Info().Str("mrd_client", h.remote.String()).Str("summary", rep.String()).Msg("MRD acquisitions wrapped")
	if req.Header.Study == nil || req.Header.Study.StudyInstanceUID == "" {
		n.log.Warn().Str("mrd_client", h.remote.String()).Msg("MRD header without studyInformation/studyInstanceUID: the series gets a synthetic study")
	}
	for _, note := range rep.Notes {
		n.log.Warn().Str("mrd_client", h.remote.String()).Str("note", note).Msg("MRD acquisitions")
	}
	// The decision first, durable, then the waiters, then the instances.
	for _, k := range ks {
		uid := k.SeriesInstanceUID
		if err := writeJSONDurable(n.mrdDir("routes", uid+".json"), h.route); err != nil {
			return fmt.Errorf("recording the routing of the series: %w", err)
		}
		w := &mrdWait{job: make(chan string, 1), status: make(chan JobStatus, 1)}
		n.mu.Lock()
		n.mrdSeries[uid] = w
		n.mu.Unlock()
		h.series = append(h.series, uid)
		h.waits = append(h.waits, w)
	}
	if err := h.spool(ks); err != nil {
		return err
	}
	// Wait for each series' job, then its outcome, in series order; send
	// its images at once.
	sent := 0
	for i, w := range h.waits {
		var id string
		select {
		case id = <-w.job:
		case <-ctx.Done():
			return fmt.Errorf("series %s was not routed in time: %w", h.series[i], ctx.Err())
		}
		h.jobs = append(h.jobs, id)
		var st JobStatus
		select {
		case st = <-w.status:
		case <-ctx.Done():
			return fmt.Errorf("job %s did not finish in time: %w", id, ctx.Err())
		}
		if st.State != "done" {
			return fmt.Errorf("job %s: %s: %s", id, st.State, st.Reason)
		}
		ims, err := mrdImages(mrdResultsDir(n.state, id), i)
		if err != nil {
			return fmt.Errorf("job %s: %w", id, err)
		}
		if len(ims) == 0 && st.Outputs > 0 {
			return fmt.Errorf("job %s ran on a worker with another state folder: its %d images went to %v but cannot be sent back", id, st.Outputs, h.route.Destinations)
		}
		for _, im := range ims {
			sent++
			im.Head.ImageIndex = uint16(sent)
			if err := send(im); err != nil {
				return err
			}
		}
	}
	return nil
}

// spool writes each raw-data object and hands its data set to the spool
// through BeginStore, as a C-STORE of Raw Data Storage from calling AE
// "MRD" at the client's address would be.
func (h *mrdHandler) spool(ks []*rawdata.MRKSpace) error {
	n := h.n
	work, err := os.MkdirTemp(n.mrdDir(), "session-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	assoc := &dimse.AssociationInfo{CallingAE: mrdCallingAE, CalledAE: n.cfg.Node.AETitle, RemoteAddr: h.remote}
	defer n.spool.AssociationEnded(assoc) // the instances-received audit event
	for _, k := range ks {
		path := filepath.Join(work, k.SOPInstanceUID+".dcm")
		if err := rawdata.WriteMR(path, k); err != nil {
			return err
		}
		if err := h.store(assoc, path); err != nil {
			return fmt.Errorf("spooling %s: %w", k.SOPInstanceUID, err)
		}
		os.Remove(path)
	}
	return nil
}

func (h *mrdHandler) store(assoc *dimse.AssociationInfo, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	m, err := part10.ReadMeta(br)
	if err != nil {
		return err
	}
	sink, err := h.n.spool.BeginStore(&dimse.StoreRequest{Association: assoc, SOPClassUID: m.MediaStorageSOPClassUID,
		SOPInstanceUID: m.MediaStorageSOPInstanceUID, TransferSyntaxUID: m.TransferSyntaxUID})
	if err != nil {
		return err
	}
	buf := make([]byte, 16<<10) // PDV-sized pieces, as the Storage SCP writes them
	var werr error
	for werr == nil {
		k, rerr := br.Read(buf)
		if k > 0 {
			_, werr = sink.Write(buf[:k])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && werr == nil {
			werr = rerr
		}
	}
	st, err := sink.Close(werr)
	if werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if st != 0 {
		return fmt.Errorf("spool answered status 0x%04X", st)
	}
	return nil
}

// mrdImages reads a job's derived images, in instance order, as MRD
// float magnitude images: x along the readout (the DICOM rows in
// tweedie's layout), y along phase encoding, placed in space as each
// derived image is (mrdGeometry).
func mrdImages(dir string, series int) ([]*stream.Image, error) {
	files, err := BatchFiles(dir)
	if err != nil {
		return nil, err
	}
	var ims []*derived.Image
	geom := map[*derived.Image]*stream.ImageHeader{}
	for _, f := range files {
		im, err := derived.ReadImage(f)
		if err != nil {
			return nil, err
		}
		ims = append(ims, im)
		var g stream.ImageHeader
		if mrdGeometry(f, &g) {
			geom[im] = &g
		}
	}
	// The images proper: a reconstructor that also writes a map (the
	// "-std" series of the diffusion reconstructors' uncertainty) writes
	// it as the next series number.
	if len(ims) > 0 {
		first := ims[0]
		for _, im := range ims[1:] {
			if seriesNumber(im.Name) < seriesNumber(first.Name) {
				first = im
			}
		}
		keep := ims[:0]
		for _, im := range ims {
			if im.SeriesUID == first.SeriesUID {
				keep = append(keep, im)
			}
		}
		ims = keep
	}
	sort.SliceStable(ims, func(i, j int) bool { return ims[i].Number < ims[j].Number })
	var out []*stream.Image
	for s, im := range ims {
		nx, ny := im.Rows, im.Cols
		pix := make([]float32, nx*ny)
		for x := 0; x < nx; x++ {
			for y := 0; y < ny; y++ {
				pix[y*nx+x] = float32(im.Vals[x*ny+y])
			}
		}
		m, err := stream.NewFloatImage(nx, ny, 1, 1, pix)
		if err != nil {
			return nil, err
		}
		if g := geom[im]; g != nil {
			m.Head.FieldOfView, m.Head.Position = g.FieldOfView, g.Position
			m.Head.ReadDir, m.Head.PhaseDir, m.Head.SliceDir = g.ReadDir, g.PhaseDir, g.SliceDir
		}
		m.Head.Slice = uint16(s)
		m.Head.ImageSeriesIndex = uint16(series)
		out = append(out, m)
	}
	return out, nil
}

// mrdGeometry fills the spatial fields of an MRD image header from a
// derived image's Image Orientation (Patient), Image Position (Patient),
// Pixel Spacing and Slice Thickness, and reports whether it found them.
// The fields are ISMRMRD_ImageHeader's (ismrmrd.h; doc/mrd_image_data.md):
// field_of_view the size in mm of each of the image's 3 dimensions,
// position the centre of the image in LPS coordinates relative to the
// isocentre (not DICOM's first voxel), read_dir and phase_dir the
// direction cosines of the image's x and y, slice_dir their cross
// product (the slice normal as ISMRMRD defines it). In tweedie's layout
// the image's x is the DICOM row index, so x runs along the column
// direction cosine (the second triplet of the orientation, the readout
// of a 2D acquisition) and y along the row direction cosine (the first,
// phase encoding); Pixel Spacing is the spacing between rows (along x)
// then between columns (along y). Without them (PS3.3 §C.7.6.2: they are
// Type 1 in MR images, but the image may come from elsewhere) the header
// keeps zeros, as before.
func mrdGeometry(path string, g *stream.ImageHeader) bool {
	h, err := ReadHeader(path)
	if err != nil {
		return false
	}
	sub, err := h.Subject()
	if err != nil {
		return false
	}
	floats := func(attr string, n int) []float64 {
		v, ok := sub.Values(attr)
		if !ok || len(v) != n {
			return nil
		}
		out := make([]float64, n)
		for i, s := range v {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil
			}
			out[i] = f
		}
		return out
	}
	iop, ipp, ps := floats("ImageOrientationPatient", 6), floats("ImagePositionPatient", 3), floats("PixelSpacing", 2)
	rows, cols := floats("Rows", 1), floats("Columns", 1)
	if iop == nil || ipp == nil || ps == nil || rows == nil || cols == nil {
		return false
	}
	thick := 0.0
	if t := floats("SliceThickness", 1); t != nil {
		thick = t[0]
	}
	x := [3]float64{iop[3], iop[4], iop[5]}
	y := [3]float64{iop[0], iop[1], iop[2]}
	z := [3]float64{x[1]*y[2] - x[2]*y[1], x[2]*y[0] - x[0]*y[2], x[0]*y[1] - x[1]*y[0]}
	hx, hy := (rows[0]-1)/2*ps[0], (cols[0]-1)/2*ps[1]
	for i := 0; i < 3; i++ {
		g.ReadDir[i], g.PhaseDir[i], g.SliceDir[i] = float32(x[i]), float32(y[i]), float32(z[i])
		g.Position[i] = float32(ipp[i] + hx*x[i] + hy*y[i])
	}
	g.FieldOfView = [3]float32{float32(ps[0] * rows[0]), float32(ps[1] * cols[0]), float32(thick)}
	return true
}

// seriesNumber reads the series number of derived.Image.Name
// ("1001-tweedie l1-wavelet").
func seriesNumber(name string) int {
	num, _, _ := strings.Cut(name, "-")
	v, err := strconv.Atoi(num)
	if err != nil {
		return math.MaxInt
	}
	return v
}

// cleanup forgets the session's waits and removes its results folders.
func (h *mrdHandler) cleanup() {
	n := h.n
	for _, w := range h.waits[len(h.jobs):] {
		select {
		case id := <-w.job:
			h.jobs = append(h.jobs, id)
		default:
		}
	}
	n.mu.Lock()
	for _, uid := range h.series {
		delete(n.mrdSeries, uid)
	}
	for _, id := range h.jobs {
		delete(n.mrdJobs, id)
	}
	n.mu.Unlock()
	for _, id := range h.jobs {
		os.RemoveAll(mrdResultsDir(n.state, id))
	}
}

// mrdRouteFor is routeAttempt's hook: the session's decision for a
// series, in place of the rules'.
func (n *Node) mrdRouteFor(b Batch) (rules.Decision, bool) {
	r, ok := n.mrdOverride(b.Series.SeriesUID)
	if !ok {
		return rules.Decision{}, false
	}
	return r.decision(), true
}

// mrdRouteDone removes a series' recorded decision once its jobs are
// queued (jobs.json is the record from then on).
func (n *Node) mrdRouteDone(seriesUID string) {
	if dimse.ValidUID(seriesUID) {
		os.Remove(n.mrdDir("routes", seriesUID+".json"))
	}
}
