// Journal write-back: spool files written from committed journal records
// once the sender pauses, made durable by a checkpoint, after which the
// records are dead (docs/gateway.md, "Durability before Success").

package gateway

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

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
