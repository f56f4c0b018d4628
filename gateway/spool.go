package gateway

import (
	"context"
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
	// arriving counts the instances still being received, by the Series
	// Instance UID read from their first bytes: a series does not
	// complete on its timeout while one of its instances is in transfer.
	arriving map[string]int

	j            *journal       // nil without fsync
	unwritten    []pendingWrite // journaled instances whose spool file is not written yet
	lastCommit   time.Time
	writeBackoff time.Duration // after a failed write from the journal
	writeRetryAt time.Time
	pending      []pendingFile // spool files written from the journal, not yet checkpointed
	written      chan struct{} // wakes writeOut
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
		open:      map[string]*openSeries{}, processed: map[string]int{}, arriving: map[string]int{},
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
	// A series has one folder: a record goes into the series' folder
	// where there is one, whatever study its name says (a journal of an
	// older version named each instance's own study, and a series whose
	// instances claim different studies was filed under the first one's).
	folders := map[string]string{}
	if studies, err := os.ReadDir(s.spoolDir); err == nil {
		for _, st := range studies {
			sers, _ := os.ReadDir(filepath.Join(s.spoolDir, st.Name()))
			for _, se := range sers {
				if _, ok := folders[se.Name()]; !ok && se.IsDir() {
					folders[se.Name()] = filepath.Join(s.spoolDir, st.Name(), se.Name())
				}
			}
		}
	}
	for i := range recs {
		r := &recs[i]
		if r.gen <= s.processed[r.series] || keep[r.seg] {
			continue
		}
		dir := folders[r.series]
		if dir == "" {
			dir = filepath.Join(s.spoolDir, r.study, r.series)
			folders[r.series] = dir
		}
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

func (s *Spool) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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

// completeDue hands on every series that is due.
func (s *Spool) completeDue(now time.Time) {
	s.mu.Lock()
	var due []*openSeries
	var reasons []string
	for _, ser := range s.open {
		if ser.inflight > 0 || ser.unsynced > 0 || s.arriving[ser.info.SeriesUID] > 0 {
			// unsynced: the checkpoint before the next round makes the
			// files durable in the folder that is about to move.
			// arriving: an instance of the series is still in transfer
			// (a large one from a slow sender outlasts the timeout).
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
