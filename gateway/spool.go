package gateway

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/part10"
)

// Spool is the Storage SCP's handler (dimse.StoreHandler) and the series
// tracker. Each received data set is written to a temporary file, fsynced,
// and renamed to STATE/spool/<study>/<series>/<SOP instance>.dcm before
// Success is answered (PS3.4 §B.2.3: Success means the SCP has taken over
// the object). A series is complete when nothing new arrived for the
// series timeout, or at once when the raw-data objects declare how many
// instances make up the acquisition and all have arrived; its folder is
// then renamed to STATE/batches/<batch ID> and handed to OnBatch.
//
// Everything the spool knows is on disk: a restart finds the open series
// in spool/ (they complete after the timeout), the completed ones in
// batches/, and the last generation of each processed series in series/.
//
// Lock order: Spool.mu is taken alone; no other lock is held with it.
type Spool struct {
	cfg SpoolOptions

	spoolDir, tmpDir, batchDir, markerDir string

	mu        sync.Mutex
	open      map[string]*openSeries // by Series Instance UID
	processed map[string]int         // Series Instance UID → last generation handed on
	tallies   map[string]*tally      // by association key
	wake      chan struct{}
}

// SpoolOptions configures a Spool.
type SpoolOptions struct {
	StateDir string
	// Fsync makes every entry durable before Success is answered.
	Fsync bool
	// MinFree is the free-space floor: below it C-STORE is refused with
	// 0xA700 Out of Resources (PS3.4 Table B.2-1).
	MinFree int64
	// IgnoreDuplicates keeps the first copy of a SOP instance received
	// twice; otherwise the second replaces it.
	IgnoreDuplicates bool
	// IgnoreLate drops instances of a series already handed on; otherwise
	// they start a new generation of the series, which becomes a batch of
	// its own.
	IgnoreLate bool
	// Timeout completes a series when nothing arrived for this long.
	Timeout time.Duration
	Audit   *Audit
	Metrics *Metrics
	Log     zerolog.Logger
	// OnBatch receives each completed series, from the spool's own
	// goroutine and, at start, for every batch found on disk.
	OnBatch func(Batch)
	// freeBytes is replaced in tests.
	freeBytes func(dir string) (int64, error)
}

// Batch is a completed series (one generation of it), in its own folder.
type Batch struct {
	ID     string // "<Series Instance UID>-g<generation>"
	Dir    string
	Series SeriesInfo
	Reason string // "timeout", "count" or "restart"
}

// SeriesInfo is what the spool records of a series, in series.json.
type SeriesInfo struct {
	StudyUID   string    `json:"study_uid"`
	SeriesUID  string    `json:"series_uid"`
	Generation int       `json:"generation"`
	CallingAE  string    `json:"calling_ae"`
	CalledAE   string    `json:"called_ae"`
	PeerAddr   string    `json:"peer_addr"`
	FirstAt    time.Time `json:"first_at"`
	// PatientName and PatientID are kept for the audit stream.
	PatientName string `json:"patient_name,omitempty"`
	PatientID   string `json:"patient_id,omitempty"`
}

type openSeries struct {
	info      SeriesInfo
	dir       string
	instances map[string]string // SOP instance → acquisition UID ("" when undeclared)
	declared  map[string]int    // acquisition UID → declared instance count
	last      time.Time
	inflight  int
	ready     bool // every declared acquisition is complete
}

// complete reports whether the objects declared their acquisitions and
// all instances of them are here.
func (s *openSeries) complete() bool {
	if len(s.declared) == 0 {
		return false
	}
	have := map[string]int{}
	for _, acq := range s.instances {
		if acq == "" {
			return false
		}
		have[acq]++
	}
	for acq, n := range s.declared {
		if have[acq] < n {
			return false
		}
	}
	return true
}

type tally struct {
	calling, called, peer string
	studies               map[string]*studyTally
}

type studyTally struct {
	instances              int
	series                 map[string]bool
	sopClasses             map[string]bool
	patientName, patientID string
}

// NewSpool opens the spool under StateDir, cleaning half-written
// temporary files and recovering open series.
func NewSpool(o SpoolOptions) (*Spool, error) {
	if o.freeBytes == nil {
		o.freeBytes = freeBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	s := &Spool{cfg: o,
		spoolDir:  filepath.Join(o.StateDir, "spool"),
		tmpDir:    filepath.Join(o.StateDir, "tmp"),
		batchDir:  filepath.Join(o.StateDir, "batches"),
		markerDir: filepath.Join(o.StateDir, "series"),
		open:      map[string]*openSeries{}, processed: map[string]int{},
		tallies: map[string]*tally{}, wake: make(chan struct{}, 1)}
	for _, d := range []string{s.spoolDir, s.tmpDir, s.batchDir, s.markerDir} {
		if err := mkdirDurable(d); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

// recover rebuilds the in-memory state from the folders.
func (s *Spool) recover() error {
	// Temporary files are objects whose Success was never sent: the
	// sender still has them.
	tmps, _ := os.ReadDir(s.tmpDir)
	for _, e := range tmps {
		os.Remove(filepath.Join(s.tmpDir, e.Name()))
	}
	markers, _ := os.ReadDir(s.markerDir)
	for _, e := range markers {
		if !dimse.ValidUID(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.markerDir, e.Name()))
		if err != nil {
			return err
		}
		if g, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			s.processed[e.Name()] = g
		}
	}
	batches, _ := os.ReadDir(s.batchDir)
	for _, e := range batches {
		if series, gen, ok := parseBatchID(e.Name()); ok && gen > s.processed[series] {
			// Renamed but the marker was not written: the rename counts.
			s.processed[series] = gen
			if err := writeFileDurable(filepath.Join(s.markerDir, series), []byte(strconv.Itoa(gen)+"\n")); err != nil {
				return err
			}
		}
	}
	studies, _ := os.ReadDir(s.spoolDir)
	now := time.Now()
	for _, st := range studies {
		seriesDirs, _ := os.ReadDir(filepath.Join(s.spoolDir, st.Name()))
		if len(seriesDirs) == 0 {
			os.Remove(filepath.Join(s.spoolDir, st.Name()))
		}
		for _, se := range seriesDirs {
			dir := filepath.Join(s.spoolDir, st.Name(), se.Name())
			ser := &openSeries{dir: dir, instances: map[string]string{}, declared: map[string]int{}, last: now}
			if err := readJSON(filepath.Join(dir, "series.json"), &ser.info); err != nil {
				ser.info = SeriesInfo{StudyUID: st.Name(), SeriesUID: se.Name(), FirstAt: now}
			}
			ser.info.Generation = s.processed[se.Name()] + 1
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				name := f.Name()
				if !strings.HasSuffix(name, ".dcm") {
					continue
				}
				h, err := ReadHeader(filepath.Join(dir, name))
				if err != nil {
					s.cfg.Log.Warn().Err(err).Msg("spool: unreadable instance left in place")
					continue
				}
				ser.add(strings.TrimSuffix(name, ".dcm"), h)
			}
			s.open[se.Name()] = ser
			s.cfg.Log.Info().Str("series", se.Name()).Int("instances", len(ser.instances)).Msg("spool: open series recovered")
		}
	}
	s.metric(func(m *Metrics) { m.SeriesOpen.Set(float64(len(s.open))) })
	return nil
}

func (o *openSeries) add(sop string, h *Header) {
	o.instances[sop] = h.AcquisitionUID
	if h.AcquisitionUID != "" && h.NumInstances > 0 {
		o.declared[h.AcquisitionUID] = h.NumInstances
	}
	o.ready = o.complete()
}

// BatchID names a generation of a series.
func BatchID(seriesUID string, gen int) string { return fmt.Sprintf("%s-g%d", seriesUID, gen) }

func parseBatchID(id string) (string, int, bool) {
	i := strings.LastIndex(id, "-g")
	if i < 0 {
		return "", 0, false
	}
	g, err := strconv.Atoi(id[i+2:])
	if err != nil || g < 1 || !dimse.ValidUID(id[:i]) {
		return "", 0, false
	}
	return id[:i], g, true
}

// Batches returns the batches on disk, oldest generation first.
func (s *Spool) Batches() []Batch {
	entries, _ := os.ReadDir(s.batchDir)
	var out []Batch
	for _, e := range entries {
		if _, _, ok := parseBatchID(e.Name()); !ok {
			continue
		}
		b := Batch{ID: e.Name(), Dir: filepath.Join(s.batchDir, e.Name()), Reason: "restart"}
		_ = readJSON(filepath.Join(b.Dir, "series.json"), &b.Series)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// BatchDir is where the batch with this ID lives (or lived).
func (s *Spool) BatchDir(id string) string { return filepath.Join(s.batchDir, id) }

func (s *Spool) metric(f func(*Metrics)) {
	if s.cfg.Metrics != nil {
		f(s.cfg.Metrics)
	}
}

// BeginStore implements dimse.StoreHandler: it checks the free-space floor
// and opens the temporary file.
func (s *Spool) BeginStore(req *dimse.StoreRequest) (dimse.StoreSink, error) {
	if !dimse.ValidUID(req.SOPInstanceUID) {
		return nil, &dimse.StatusError{Status: msg.StatusCannotUnderstand, Comment: "invalid SOP Instance UID"}
	}
	free, err := s.cfg.freeBytes(s.tmpDir)
	if err == nil {
		s.metric(func(m *Metrics) { m.SpoolFreeBytes.Set(float64(free)) })
	}
	if err == nil && free < s.cfg.MinFree {
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("refused").Inc() })
		return nil, fmt.Errorf("%w: %d bytes free, below the floor of %d", dimse.ErrOutOfResources, free, s.cfg.MinFree)
	}
	f, err := os.CreateTemp(s.tmpDir, "in-*")
	if err != nil {
		return nil, fmt.Errorf("%w: creating a spool file: %v", dimse.ErrOutOfResources, err)
	}
	var meta bytes.Buffer
	calling := ""
	if req.Association != nil {
		calling = req.Association.CallingAE
	}
	err = part10.WriteMeta(&meta, part10.Meta{MediaStorageSOPClassUID: req.SOPClassUID, MediaStorageSOPInstanceUID: req.SOPInstanceUID,
		TransferSyntaxUID: req.TransferSyntaxUID, ImplementationClassUID: dimse.ImplementationClassUID,
		ImplementationVersionName: dimse.ImplementationVersionName, SourceApplicationEntityTitle: calling})
	if err == nil {
		_, err = f.Write(meta.Bytes())
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, storeErr(err)
	}
	return &spoolSink{s: s, f: f, req: req, metaLen: int64(meta.Len()), prefix: getPrefix()}, nil
}

// prefixPool recycles the header buffers: one per instance would otherwise
// be most of the garbage an ingest makes.
var prefixPool = sync.Pool{New: func() any { b := make([]byte, 0, headerPrefix); return &b }}

func getPrefix() []byte { return (*prefixPool.Get().(*[]byte))[:0] }

func putPrefix(b []byte) {
	if cap(b) == headerPrefix {
		prefixPool.Put(&b)
	}
}

// headerPrefix is how much of each data set the sink keeps in memory so that
// the header is read without reopening the file (the elements before the
// pixel data fit in it for nearly every object; the rest is read from disk).
const headerPrefix = 64 << 10

// storeErr maps a file-system error to the status the peer gets: a full
// disk is Out of Resources (0xA700), anything else a processing failure.
func storeErr(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %v", dimse.ErrOutOfResources, err)
	}
	return &dimse.StatusError{Status: msg.StatusProcessingFailure, Comment: "spool write failed", Err: err}
}

type spoolSink struct {
	s       *Spool
	f       *os.File
	req     *dimse.StoreRequest
	bytes   int64
	metaLen int64
	prefix  []byte // the first headerPrefix bytes of the data set
}

func (k *spoolSink) Write(p []byte) (int, error) {
	if room := cap(k.prefix) - len(k.prefix); room > 0 {
		k.prefix = append(k.prefix, p[:min(room, len(p))]...)
	}
	n, err := k.f.Write(p)
	k.bytes += int64(n)
	if err != nil {
		return n, storeErr(err)
	}
	return n, nil
}

func (k *spoolSink) discard() {
	k.f.Close()
	os.Remove(k.f.Name())
	putPrefix(k.prefix)
	k.prefix = nil
}

// Close makes the instance durable and files it in its series.
func (k *spoolSink) Close(transferErr error) (uint16, error) {
	s := k.s
	if transferErr != nil {
		k.discard()
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, transferErr
	}
	t0 := time.Now()
	var err error
	if s.cfg.Fsync {
		err = k.f.Sync()
	}
	if cerr := k.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(k.f.Name())
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, storeErr(err)
	}
	h, err := headerFromPrefix(k.prefix, k.f.Name(), k.metaLen, k.req)
	putPrefix(k.prefix)
	k.prefix = nil
	if err != nil {
		os.Remove(k.f.Name())
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, &dimse.StatusError{Status: msg.StatusCannotUnderstand, Comment: "data set header unreadable", Err: err}
	}
	st, err := s.admit(k.f.Name(), k.req, h)
	if err != nil {
		os.Remove(k.f.Name())
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, err
	}
	s.metric(func(m *Metrics) {
		m.ReceivedBytes.Add(float64(k.bytes))
		m.StoreLatencySecs.Observe(time.Since(t0).Seconds())
	})
	return st, nil
}

// admit files a durable temporary file in its series: it reads the
// header, applies the duplicate and late-arrival policies, and renames the
// file into the series folder.
func (s *Spool) admit(tmp string, req *dimse.StoreRequest, h *Header) (uint16, error) {
	var err error
	switch {
	case h.SOPInstanceUID != req.SOPInstanceUID:
		return 0, &dimse.StatusError{Status: msg.StatusDataSetMismatch, Comment: "SOP Instance UID differs from the request's"}
	case !dimse.ValidUID(h.StudyUID):
		return 0, &dimse.StatusError{Status: msg.StatusCannotUnderstand, Comment: "missing or invalid Study Instance UID"}
	case !dimse.ValidUID(h.SeriesUID):
		return 0, &dimse.StatusError{Status: msg.StatusCannotUnderstand, Comment: "missing or invalid Series Instance UID"}
	}
	sop := req.SOPInstanceUID
	s.mu.Lock()
	ser := s.open[h.SeriesUID]
	if ser == nil {
		gen := s.processed[h.SeriesUID]
		if gen > 0 && s.cfg.IgnoreLate {
			s.mu.Unlock()
			os.Remove(tmp)
			s.metric(func(m *Metrics) {
				m.DuplicateInstance.WithLabelValues("late_ignored").Inc()
				m.Received.WithLabelValues("ignored").Inc()
			})
			s.auditDisposition("instance-ignored", "series already processed; policy after_processed: ignore", req, h, gen)
			return msg.StatusSuccess, nil
		}
		ser = &openSeries{dir: filepath.Join(s.spoolDir, h.StudyUID, h.SeriesUID), instances: map[string]string{},
			declared: map[string]int{}, last: time.Now(),
			info: SeriesInfo{StudyUID: h.StudyUID, SeriesUID: h.SeriesUID, Generation: gen + 1, FirstAt: time.Now(),
				PatientName: h.PatientName, PatientID: h.PatientID}}
		if a := req.Association; a != nil {
			ser.info.CallingAE, ser.info.CalledAE = a.CallingAE, a.CalledAE
			if a.RemoteAddr != nil {
				ser.info.PeerAddr = a.RemoteAddr.String()
			}
		}
		if err := mkdirDurable(ser.dir); err == nil {
			err = writeJSONDurable(filepath.Join(ser.dir, "series.json"), ser.info)
		}
		if err != nil {
			s.mu.Unlock()
			return 0, storeErr(err)
		}
		s.open[h.SeriesUID] = ser
		s.metric(func(m *Metrics) { m.SeriesOpen.Set(float64(len(s.open))) })
		if gen > 0 {
			s.metric(func(m *Metrics) { m.DuplicateInstance.WithLabelValues("late_new_job").Inc() })
			s.auditDisposition("instance-late", "series already processed; policy after_processed: new_job (generation "+strconv.Itoa(gen+1)+")", req, h, gen)
		}
	}
	_, dup := ser.instances[sop]
	if dup && s.cfg.IgnoreDuplicates {
		ser.last = time.Now()
		s.mu.Unlock()
		os.Remove(tmp)
		s.metric(func(m *Metrics) {
			m.DuplicateInstance.WithLabelValues("ignored").Inc()
			m.Received.WithLabelValues("ignored").Inc()
		})
		s.auditDisposition("instance-duplicate", "duplicate SOP instance ignored (spool.duplicates: ignore)", req, h, ser.info.Generation)
		return msg.StatusSuccess, nil
	}
	ser.inflight++
	dir := ser.dir
	s.mu.Unlock()

	final := filepath.Join(dir, sop+".dcm")
	err = os.Rename(tmp, final)
	if err == nil && s.cfg.Fsync {
		err = syncDir(dir)
	}

	s.mu.Lock()
	ser.inflight--
	ser.last = time.Now()
	if err == nil {
		ser.add(sop, h)
		s.tallyLocked(req, h)
	}
	ready := ser.ready
	s.mu.Unlock()
	if err != nil {
		return 0, storeErr(err)
	}
	if dup {
		s.metric(func(m *Metrics) { m.DuplicateInstance.WithLabelValues("replaced").Inc() })
		s.auditDisposition("instance-duplicate", "duplicate SOP instance replaced the spooled copy (spool.duplicates: replace)", req, h, ser.info.Generation)
	}
	s.metric(func(m *Metrics) { m.Received.WithLabelValues("stored").Inc() })
	if ready {
		s.poke()
	}
	return msg.StatusSuccess, nil
}

func (s *Spool) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Spool) auditDisposition(event, why string, req *dimse.StoreRequest, h *Header, gen int) {
	r := s.cfg.Audit.Event(event, AuditInstancesTransfered, AuditEventID{}, "C", OutcomeMinorFailure).
		Str("description", why).Str("sop_instance_uid", h.SOPInstanceUID).Str("sop_class_uid", h.SOPClassUID).
		Str("study_uid", h.StudyUID).Str("series_uid", h.SeriesUID).Int("generation", gen).Patient(h.PatientName, h.PatientID)
	if a := req.Association; a != nil {
		r = r.Str("source_ae", a.CallingAE).Str("destination_ae", a.CalledAE)
		if a.RemoteAddr != nil {
			r = r.Str("source_address", a.RemoteAddr.String())
		}
	}
	r.Send()
}

// tallyLocked counts a stored instance for the association's
// "instances received" audit event.
func (s *Spool) tallyLocked(req *dimse.StoreRequest, h *Header) {
	a := req.Association
	if a == nil {
		return
	}
	t := s.tallies[assocKey(a)]
	if t == nil {
		t = &tally{calling: a.CallingAE, called: a.CalledAE, studies: map[string]*studyTally{}}
		if a.RemoteAddr != nil {
			t.peer = a.RemoteAddr.String()
		}
		s.tallies[assocKey(a)] = t
	}
	st := t.studies[h.StudyUID]
	if st == nil {
		st = &studyTally{series: map[string]bool{}, sopClasses: map[string]bool{}, patientName: h.PatientName, patientID: h.PatientID}
		t.studies[h.StudyUID] = st
	}
	st.instances++
	st.series[h.SeriesUID] = true
	st.sopClasses[h.SOPClassUID] = true
}

// AssociationEnded writes the association's "instances received" audit
// events (PS3.15 §A.5.3.5 DICOM Instances Transferred, action C), one per
// study.
func (s *Spool) AssociationEnded(a *dimse.AssociationInfo) {
	s.mu.Lock()
	t := s.tallies[assocKey(a)]
	delete(s.tallies, assocKey(a))
	s.mu.Unlock()
	if t == nil {
		return
	}
	for study, st := range t.studies {
		s.cfg.Audit.Event("instances-received", AuditInstancesTransfered, AuditEventID{}, "C", OutcomeSuccess).
			Str("source_ae", t.calling).Str("destination_ae", t.called).Str("source_address", t.peer).
			Str("study_uid", study).Strs("series_uids", sortedKeys(st.series)).Strs("sop_class_uids", sortedKeys(st.sopClasses)).
			Int("instances", st.instances).Patient(st.patientName, st.patientID).Send()
	}
}

// assocKey identifies a live association: its peer's address and port.
func assocKey(a *dimse.AssociationInfo) string {
	k := a.CallingAE + "|" + a.CalledAE
	if a.RemoteAddr != nil {
		k += "|" + a.RemoteAddr.String()
	}
	return k
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Run completes series until ctx ends: on the timeout, or at once when
// admit found a declared acquisition complete.
func (s *Spool) Run(ctx context.Context) {
	tick := s.cfg.Timeout / 10
	tick = max(50*time.Millisecond, min(tick, time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		s.completeDue(time.Now())
	}
}

// completeDue hands on every series that is due.
func (s *Spool) completeDue(now time.Time) {
	s.mu.Lock()
	var due []*openSeries
	var reasons []string
	for _, ser := range s.open {
		if ser.inflight > 0 {
			continue
		}
		switch {
		case ser.ready:
			due, reasons = append(due, ser), append(reasons, "count")
		case now.Sub(ser.last) >= s.cfg.Timeout:
			due, reasons = append(due, ser), append(reasons, "timeout")
		}
	}
	var batches []Batch
	for i, ser := range due {
		b, err := s.completeLocked(ser, reasons[i])
		if err != nil {
			s.cfg.Log.Error().Err(err).Str("series", ser.info.SeriesUID).Msg("spool: cannot complete series; will retry")
			continue
		}
		batches = append(batches, b)
	}
	s.metric(func(m *Metrics) { m.SeriesOpen.Set(float64(len(s.open))) })
	s.mu.Unlock()
	for _, b := range batches {
		s.cfg.Log.Info().Str("batch", b.ID).Str("reason", b.Reason).Msg("series complete")
		s.metric(func(m *Metrics) { m.SeriesCompleted.WithLabelValues(b.Reason).Inc() })
		if s.cfg.OnBatch != nil {
			s.cfg.OnBatch(b)
		}
	}
}

// completeLocked moves the series folder to batches/ and records the
// generation. The rename comes first: a crash before the marker is
// repaired by recover, which takes the batch folder as the record.
func (s *Spool) completeLocked(ser *openSeries, reason string) (Batch, error) {
	id := BatchID(ser.info.SeriesUID, ser.info.Generation)
	dst := filepath.Join(s.batchDir, id)
	if err := os.Rename(ser.dir, dst); err != nil {
		return Batch{}, err
	}
	if err := syncDir(s.batchDir); err != nil {
		return Batch{}, err
	}
	studyDir := filepath.Dir(ser.dir)
	if os.Remove(studyDir) == nil {
		_ = syncDir(s.spoolDir)
	} else {
		_ = syncDir(studyDir)
	}
	if err := writeFileDurable(filepath.Join(s.markerDir, ser.info.SeriesUID), []byte(strconv.Itoa(ser.info.Generation)+"\n")); err != nil {
		// The batch folder is the record (recover repairs the marker).
		s.cfg.Log.Warn().Err(err).Str("series", ser.info.SeriesUID).Msg("spool: generation marker not written")
	}
	s.processed[ser.info.SeriesUID] = ser.info.Generation
	delete(s.open, ser.info.SeriesUID)
	return Batch{ID: id, Dir: dst, Series: ser.info, Reason: reason}, nil
}

// OpenSeries returns the number of series being received.
func (s *Spool) OpenSeries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// BatchFiles lists the instances of a batch folder, sorted.
func BatchFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".dcm") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
