package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/tweedie-recon/tweedie/part10"
)

// Spool is the Storage SCP's handler (dimse.StoreHandler) and the series
// tracker. Each received data set is written to a temporary file and
// renamed to STATE/spool/<study>/<series>/<SOP instance>.dcm; with fsync
// on, it is durable before Success is answered (PS3.4 §B.2.3: Success
// means the SCP has taken over the object) — through the journal
// (journal.go: one data flush per instance, the spool itself made durable
// by a checkpoint in the background) or, when no journal segment is free,
// by fsync of the file and of its folder. A series is complete when nothing new arrived for the
// series timeout, or at once when the raw-data objects declare how many
// instances make up the acquisition and all have arrived; its folder is
// then renamed to STATE/batches/<batch ID> and handed to OnBatch.
//
// Everything the spool knows is on disk: a restart finds the open series
// in spool/ (they complete after the timeout), the completed ones in
// batches/, and the last generation of each processed series in series/.
//
// Lock order: Spool.mu and the journal's mutex are each taken alone; no
// other lock is held with either.
type Spool struct {
	cfg SpoolOptions

	spoolDir, tmpDir, batchDir, markerDir string

	mu        sync.Mutex
	open      map[string]*openSeries // by Series Instance UID
	processed map[string]int         // Series Instance UID → last generation handed on
	tallies   map[string]*tally      // by association key
	wake      chan struct{}

	j            *journal       // nil without fsync
	unwritten    []pendingWrite // journaled instances whose spool file is not written yet
	lastCommit   time.Time
	writeBackoff time.Duration // after a failed write from the journal
	writeRetryAt time.Time
	pending      []pendingFile // spool files written from the journal, not yet checkpointed
	written      chan struct{} // wakes writeOut
}

// pendingWrite is a committed journal record whose spool file is still to
// be written.
type pendingWrite struct {
	seg     *segment
	content *io.SectionReader
	path    string
	ser     *openSeries
}

// pendingFile is a spool file whose durability rests on a journal record.
type pendingFile struct {
	path string
	seg  *segment
	ser  *openSeries
}

// SpoolOptions configures a Spool.
type SpoolOptions struct {
	StateDir string
	// Fsync makes every entry durable before Success is answered.
	Fsync bool
	// NoJournal makes every entry durable by fsync of the file and its
	// folder instead of through the journal.
	NoJournal bool
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
	// freeBytes and journalSize (the segment size) are replaced in tests.
	freeBytes   func(dir string) (int64, error)
	journalSize int64
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
	unsynced  int  // instances durable only through the journal
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
		tallies: map[string]*tally{}, wake: make(chan struct{}, 1), written: make(chan struct{}, 1)}
	for _, d := range []string{s.spoolDir, s.tmpDir, s.batchDir, s.markerDir} {
		if err := mkdirDurable(d); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	if o.Fsync && !o.NoJournal {
		j, err := openJournal(filepath.Join(o.StateDir, "journal"), o.Log)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		if o.journalSize > 0 {
			j.size = o.journalSize
		}
		s.j = j
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	if s.j != nil {
		// The spare segments are made before the first association, so
		// that a fresh node flushes once per instance from the start.
		for s.j.count() < journalSpares && s.roomForSegment() {
			if err := s.j.makeSegment(); err != nil {
				s.cfg.Log.Warn().Err(err).Msg("journal: cannot make a segment; instances are flushed one by one")
				break
			}
		}
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
	if err := s.replayJournal(); err != nil {
		return err
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

// replayJournal writes every live journal record to its spool path again
// (the spool file may be missing, empty or short after a crash) unless its
// series generation was handed on already, then starts the segments over.
func (s *Spool) replayJournal() error {
	if s.j == nil {
		return nil
	}
	recs, err := s.j.load()
	if err != nil {
		return err
	}
	series := map[string]bool{}
	keep := map[*segment]bool{} // segments with a record that could not be written
	for i := range recs {
		r := &recs[i]
		if r.gen <= s.processed[r.series] || keep[r.seg] {
			continue
		}
		dir := filepath.Join(s.spoolDir, r.study, r.series)
		err := mkdirDurable(dir)
		if err == nil {
			err = writeFrom(io.NewSectionReader(r.seg.f, r.off, r.contentLen), s.tmpDir, filepath.Join(dir, r.sop+".dcm"), true)
		}
		if err != nil {
			// The record stays live (its segment is not reused) and the
			// next start tries again; the node serves meanwhile.
			s.cfg.Log.Error().Err(err).Str("sop_instance_uid", r.sop).Str("segment", r.seg.path).
				Msg("spool: journal record not replayed; kept for the next start")
			keep[r.seg] = true
			continue
		}
		series[r.series] = true
	}
	if len(recs) > 0 {
		s.cfg.Log.Info().Int("records", len(recs)).Int("series", len(series)).Msg("spool: journal replayed")
	}
	return s.j.resetAll(keep)
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
	var meta bytes.Buffer
	calling := ""
	if req.Association != nil {
		calling = req.Association.CallingAE
	}
	err = part10.WriteMeta(&meta, part10.Meta{MediaStorageSOPClassUID: req.SOPClassUID, MediaStorageSOPInstanceUID: req.SOPInstanceUID,
		TransferSyntaxUID: req.TransferSyntaxUID, ImplementationClassUID: dimse.ImplementationClassUID,
		ImplementationVersionName: dimse.ImplementationVersionName, SourceApplicationEntityTitle: calling})
	if err != nil {
		return nil, storeErr(err)
	}
	k := &spoolSink{s: s, req: req, metaLen: int64(meta.Len()), prefix: getPrefix()}
	if s.j != nil {
		k.jw = s.j.begin()
	}
	if k.jw != nil {
		k.jw.write(meta.Bytes())
		return k, nil
	}
	if err := k.openFile(nil); err != nil {
		k.discard()
		return nil, fmt.Errorf("%w: creating a spool file: %v", dimse.ErrOutOfResources, err)
	}
	if _, err := k.f.Write(meta.Bytes()); err != nil {
		k.discard()
		return nil, storeErr(err)
	}
	return k, nil
}

// openFile creates the instance's temporary file, first copying into it
// what the journal record being written holds (a record that outgrew its
// segment spills into a file and goes on the classic way).
func (k *spoolSink) openFile(jw *journalWrite) error {
	f, err := os.CreateTemp(k.s.tmpDir, "in-*")
	if err != nil {
		return err
	}
	k.f = f
	if jw != nil {
		_, err = io.Copy(f, jw.content())
	}
	return err
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

// spoolSink receives one instance: into a journal record when a segment
// is free (the spool file is written after Success, off the critical
// path), else into a temporary file.
type spoolSink struct {
	s       *Spool
	jw      *journalWrite // the record being written, or nil
	f       *os.File      // the temporary file, when there is no record
	req     *dimse.StoreRequest
	bytes   int64
	metaLen int64
	prefix  []byte // the first headerPrefix bytes of the data set
}

func (k *spoolSink) Write(p []byte) (int, error) {
	if room := cap(k.prefix) - len(k.prefix); room > 0 {
		k.prefix = append(k.prefix, p[:min(room, len(p))]...)
	}
	if k.f == nil {
		if k.jw.write(p) {
			k.bytes += int64(len(p))
			return len(p), nil
		}
		// No room left in the segment (or a write failed).
		jw := k.jw
		k.jw = nil
		err := k.openFile(jw)
		jw.release()
		if err != nil {
			return 0, storeErr(err)
		}
	}
	n, err := k.f.Write(p)
	k.bytes += int64(n)
	if err != nil {
		return n, storeErr(err)
	}
	return n, nil
}

// discard drops the instance: the temporary file and the journal record
// being written. It may be called after the file was closed or renamed.
func (k *spoolSink) discard() {
	if k.f != nil {
		k.f.Close()
		os.Remove(k.f.Name())
	}
	putPrefix(k.prefix)
	k.prefix = nil
	k.jw.release()
	k.jw = nil
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
	var rest io.Reader
	if k.f != nil {
		lf := &lazyFile{path: k.f.Name(), off: k.metaLen + int64(len(k.prefix))}
		defer lf.Close()
		rest = lf
	} else {
		c := k.jw.content()
		rest = io.NewSectionReader(c, k.metaLen+int64(len(k.prefix)), c.Size())
	}
	h, err := headerFromPrefix(k.prefix, rest, k.req)
	putPrefix(k.prefix)
	k.prefix = nil
	if err != nil {
		k.discard()
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, &dimse.StatusError{Status: msg.StatusCannotUnderstand, Comment: "data set header unreadable", Err: err}
	}
	st, err := s.admit(k, k.req, h)
	if err != nil {
		k.discard()
		s.metric(func(m *Metrics) { m.Received.WithLabelValues("failed").Inc() })
		return 0, err
	}
	s.metric(func(m *Metrics) {
		m.ReceivedBytes.Add(float64(k.bytes))
		m.StoreLatencySecs.Observe(time.Since(t0).Seconds())
	})
	return st, nil
}

// admit files a received instance in its series: it applies the
// duplicate and late-arrival policies, makes the file durable and renames
// it into the series folder.
func (s *Spool) admit(k *spoolSink, req *dimse.StoreRequest, h *Header) (uint16, error) {
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
			k.discard()
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
		k.discard()
		s.metric(func(m *Metrics) {
			m.DuplicateInstance.WithLabelValues("ignored").Inc()
			m.Received.WithLabelValues("ignored").Inc()
		})
		s.auditDisposition("instance-duplicate", "duplicate SOP instance ignored (spool.duplicates: ignore)", req, h, ser.info.Generation)
		return msg.StatusSuccess, nil
	}
	ser.inflight++
	dir, gen := ser.dir, ser.info.Generation
	s.mu.Unlock()

	final := filepath.Join(dir, sop+".dcm")
	var out pendingWrite
	if jw := k.jw; jw != nil {
		// One flush of the record makes the instance durable; the spool
		// file is written afterwards by writeOut.
		k.jw = nil
		if cerr := jw.commit(h.StudyUID, h.SeriesUID, sop, gen); cerr == nil {
			out = pendingWrite{seg: jw.seg, content: jw.content(), path: final}
		} else {
			err = k.openFile(jw) // the segment is retired; go the classic way
			jw.release()
		}
	}
	if out.seg == nil && err == nil {
		err = s.fileClassic(k.f, final)
	}
	if err == nil && s.cfg.Fsync {
		method := "fsync"
		if out.seg != nil {
			method = "journal"
		}
		s.metric(func(m *Metrics) { m.Durable.WithLabelValues(method).Inc() })
	}

	s.mu.Lock()
	ser.inflight--
	ser.last = time.Now()
	if err == nil {
		ser.add(sop, h)
		s.tallyLocked(req, h)
		if out.seg != nil {
			out.ser = ser
			ser.unsynced++
			s.unwritten = append(s.unwritten, out)
			s.lastCommit = time.Now()
		}
	}
	ready := ser.ready
	s.mu.Unlock()
	if out.seg != nil {
		select {
		case s.written <- struct{}{}:
		default:
		}
	}
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

// fileClassic makes a temporary file durable (with fsync on) and renames
// it to path, then makes the folder entry durable.
func (s *Spool) fileClassic(f *os.File, path string) error {
	var err error
	if s.cfg.Fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil && s.cfg.Fsync {
		err = syncDir(filepath.Dir(path))
	}
	return err
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
	var helpers sync.WaitGroup
	if s.j != nil {
		helpers.Add(2)
		go func() { defer helpers.Done(); s.growJournal(ctx) }()
		go func() { defer helpers.Done(); s.writer(ctx) }()
	}
	for {
		select {
		case <-ctx.Done():
			helpers.Wait()
			s.checkpoint()
			return
		case <-s.wake:
		case <-t.C:
		}
		s.checkpoint()
		s.completeDue(time.Now())
	}
}

// journalSpares is how many segments the spool makes at start; more are
// made, up to journalMaxSegments, when writers find none free.
const journalSpares = 4

// roomForSegment: a segment is made only with room for four more above
// the free-space floor.
func (s *Spool) roomForSegment() bool {
	free, err := s.cfg.freeBytes(s.j.dir)
	return err == nil && free >= s.cfg.MinFree+4*s.j.size
}

// growJournal makes journal segments in the background, never on the
// path of a C-STORE, and only with room to spare above the free-space
// floor.
func (s *Spool) growJournal(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if s.j.needsGrow() && s.roomForSegment() {
			if err := s.j.makeSegment(); err != nil {
				s.cfg.Log.Warn().Err(err).Msg("journal: cannot make a segment; instances are flushed one by one")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writer writes the spool files of committed journal records, in the
// order they were committed, until ctx ends; then it writes what is left.
// It waits while instances keep arriving (writing and the checkpoint's
// flush would compete with the C-STOREs for the disk and the CPU) unless
// the journal is filling up or a series is waiting to complete: a study
// arriving in a burst is acknowledged at the journal's pace and written out
// once the burst ends.
func (s *Spool) writer(ctx context.Context) {
	t := time.NewTicker(writerQuiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.writeOut()
			return
		case <-s.written:
		case <-t.C:
		}
		if s.writeDue() {
			s.writeOut()
		}
	}
}

// writerQuiet: the writer waits until nothing was committed for this long.
const writerQuiet = 50 * time.Millisecond

// writeDue: quiet, or a third of the journal holds unwritten records, or
// a series has all its declared instances.
func (s *Spool) writeDue() bool {
	capacity := int64(s.j.count()) * s.j.size // before s.mu: it is taken alone
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unwritten) == 0 || time.Now().Before(s.writeRetryAt) {
		return false
	}
	if time.Since(s.lastCommit) >= writerQuiet {
		return true
	}
	var unwritten int64
	for _, w := range s.unwritten {
		if w.ser.ready {
			return true
		}
		unwritten += w.content.Size()
	}
	return unwritten*3 >= capacity
}

// writeOut writes the spool files of the committed journal records (not
// flushed: the checkpoint does that) and hands them to the checkpoint.
// Records are written in commit order, so that of two copies of a SOP
// instance the later one stays.
func (s *Spool) writeOut() {
	s.mu.Lock()
	w := s.unwritten
	s.unwritten = nil
	s.mu.Unlock()
	for i, x := range w {
		err := writeFrom(io.NewSectionReader(x.content, 0, x.content.Size()), s.tmpDir, x.path, false)
		s.mu.Lock()
		if err != nil {
			s.unwritten = append(w[i:], s.unwritten...)
			// The records stay live in the journal; retry after 1 s,
			// doubling up to 30 s (a full disk must not flood the log).
			s.writeBackoff = min(max(2*s.writeBackoff, time.Second), 30*time.Second)
			s.writeRetryAt = time.Now().Add(s.writeBackoff)
			retry := s.writeBackoff
			s.mu.Unlock()
			s.cfg.Log.Error().Err(err).Str("path", x.path).Dur("retry_in", retry).Msg("spool: writing from the journal failed; the instance is safe in the journal")
			break
		}
		s.writeBackoff = 0
		s.pending = append(s.pending, pendingFile{path: x.path, seg: x.seg, ser: x.ser})
		s.mu.Unlock()
	}
	if len(w) > 0 {
		s.poke() // checkpoint: frees segments and lets series complete
	}
}

// checkpoint makes the journaled spool files durable by themselves
// (fsync of each file and folder when few, else one syncfs) and lets the
// journal reuse their segments.
func (s *Spool) checkpoint() {
	if s.j == nil {
		return
	}
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(p) == 0 {
		return
	}
	t0 := time.Now()
	var err error
	if len(p) > 16 {
		err = syncFS(s.spoolDir)
	} else {
		dirs := map[string]bool{}
		for _, f := range p {
			if e := fsyncPath(f.path); e != nil && !errors.Is(e, os.ErrNotExist) {
				err = e
				break
			}
			dirs[filepath.Dir(f.path)] = true
		}
		for d := range dirs {
			if err == nil {
				if e := syncDir(d); e != nil && !errors.Is(e, os.ErrNotExist) {
					err = e
				}
			}
		}
	}
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg("spool: checkpoint failed; the journal keeps the instances")
		s.mu.Lock()
		s.pending = append(p, s.pending...)
		s.mu.Unlock()
		return
	}
	s.metric(func(m *Metrics) { m.Checkpoints.Observe(time.Since(t0).Seconds()) })
	done := map[*segment]int{}
	s.mu.Lock()
	for _, f := range p {
		if f.ser != nil {
			f.ser.unsynced--
		}
		done[f.seg]++
	}
	s.mu.Unlock()
	s.j.checkpointed(done)
}

// completeDue hands on every series that is due.
func (s *Spool) completeDue(now time.Time) {
	s.mu.Lock()
	var due []*openSeries
	var reasons []string
	for _, ser := range s.open {
		if ser.inflight > 0 || ser.unsynced > 0 {
			// unsynced: the checkpoint before the next round makes the
			// files durable in the folder that is about to move.
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
