// Admission: a received instance is filed in its series, after the
// duplicate and late-arrival policies, durable before Success
// (PS3.4 §B.2.3).

package gateway

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
)

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
		// The record names the folder the instance is filed in: the
		// series' folder, under the study of the series' first instance
		// (an instance claiming another study goes in the same folder),
		// so that a replay writes it where this path did.
		if cerr := jw.commit(filepath.Base(filepath.Dir(dir)), h.SeriesUID, sop, gen); cerr == nil {
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
