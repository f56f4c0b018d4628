// The Storage SCP side of the spool: BeginStore opens a sink per received
// instance (PS3.4 §B.2), which writes it into a journal record or a
// temporary file and, at Close, reads its header and hands it to admit.

package gateway

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

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
	// series is the Series Instance UID read from the first bytes, counted
	// in the spool's arriving until Close; sniffed is how much of the
	// prefix the last attempt had (0: none yet, -1: given up or found).
	series  string
	sniffed int
}

// sniffSeries reads the Series Instance UID from the first bytes of the
// data set while it is still arriving, and counts the instance as
// arriving in that series until Close: the series' completion timer only
// restarts when an instance ends, and must be held while one is in
// transfer. It tries again when another 4 KiB arrived (the prefix may end
// inside an element), and gives up once the UID cannot come any more.
func (k *spoolSink) sniffSeries() {
	if k.sniffed < 0 || (len(k.prefix) < cap(k.prefix) && len(k.prefix)-k.sniffed < 4<<10 && k.sniffed > 0) {
		return
	}
	uid, final := seriesUIDFromPrefix(k.prefix, k.req.TransferSyntaxUID, len(k.prefix) == cap(k.prefix))
	if !final {
		k.sniffed = len(k.prefix)
		return
	}
	k.sniffed = -1
	if uid == "" {
		return
	}
	k.series = uid
	k.s.mu.Lock()
	k.s.arriving[uid]++
	k.s.mu.Unlock()
}

// arrived ends the instance's count in arriving; the series' timer
// restarts from now.
func (k *spoolSink) arrived() {
	if k.series == "" {
		return
	}
	s := k.s
	s.mu.Lock()
	if s.arriving[k.series]--; s.arriving[k.series] <= 0 {
		delete(s.arriving, k.series)
	}
	if ser := s.open[k.series]; ser != nil {
		ser.last = time.Now()
	}
	s.mu.Unlock()
	k.series = ""
}

func (k *spoolSink) Write(p []byte) (int, error) {
	if room := cap(k.prefix) - len(k.prefix); room > 0 {
		k.prefix = append(k.prefix, p[:min(room, len(p))]...)
		k.sniffSeries()
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
	defer k.arrived()
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
