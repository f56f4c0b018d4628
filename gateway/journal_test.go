package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

// storeFile feeds a Part 10 file to the spool as the Storage SCP would:
// BeginStore, the data set in fragments, Close.
func storeFile(t *testing.T, s *Spool, path string) (sop string, status uint16) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	m, err := part10.ReadMeta(br)
	if err != nil {
		t.Fatal(err)
	}
	req := &dimse.StoreRequest{SOPClassUID: m.MediaStorageSOPClassUID, SOPInstanceUID: m.MediaStorageSOPInstanceUID,
		TransferSyntaxUID: m.TransferSyntaxUID, Association: &dimse.AssociationInfo{CallingAE: "SCU", CalledAE: "TWEEDIE"}}
	sink, err := s.BeginStore(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16<<10) // PDV-sized fragments
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if _, werr := sink.Write(buf[:n]); werr != nil {
				t.Fatal(werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := sink.Close(nil)
	if err != nil {
		t.Fatal(err)
	}
	return req.SOPInstanceUID, st
}

func newJournalSpool(t *testing.T, state string) *Spool {
	t.Helper()
	s, err := NewSpool(SpoolOptions{StateDir: state, Fsync: true, Timeout: time.Hour, Audit: NewAudit(io.Discard, false),
		Log: zerolog.Nop(), journalSize: 4 << 20, Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	if s.j == nil || s.j.count() < journalSpares {
		t.Fatal("fsync on but no journal segments")
	}
	return s
}

// TestJournalRecoversUnflushedSpoolFiles: instances acknowledged through
// the journal survive the loss of everything the checkpoint had not yet
// flushed — spool files missing, empty or cut short — and come back with
// the bytes they were received with, once each.
func TestJournalRecoversUnflushedSpoolFiles(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	files := writeSeries(t, src, "1.2.3.4", "1.2.3.4.1", 6, 64)
	s := newJournalSpool(t, state)
	want := map[string][]byte{}
	for _, f := range files {
		sop, st := storeFile(t, s, f)
		if st != msg.StatusSuccess {
			t.Fatalf("status %#x", st)
		}
		if len(s.unwritten) != 1 {
			t.Fatalf("%d records waiting to be written, want 1 (journal not used)", len(s.unwritten))
		}
		s.writeOut()
		b, err := os.ReadFile(filepath.Join(state, "spool", "1.2.3.4", "1.2.3.4.1", sop+".dcm"))
		if err != nil {
			t.Fatal(err)
		}
		want[sop] = b
	}
	if len(s.pending) != len(files) {
		t.Fatalf("%d instances pending a checkpoint, want %d", len(s.pending), len(files))
	}
	// The crash: the process dies before the checkpoint, and the file
	// system lost the unflushed spool files in three ways.
	dir := filepath.Join(state, "spool", "1.2.3.4", "1.2.3.4.1")
	names, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	os.Remove(names[0])
	os.Truncate(names[1], 0)
	os.Truncate(names[2], 100)
	// And one more instance was acknowledged but its spool file never
	// written.
	last := writeSeries(t, src, "1.2.3.4", "1.2.3.4.1", 7, 64)[6]
	if sop, _ := storeFile(t, s, last); fileExists(filepath.Join(dir, sop+".dcm")) {
		t.Fatal("the spool file was written on the C-STORE's path")
	}
	files = append(files, last)
	s.j.close()

	s2 := newJournalSpool(t, state)
	got, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	if len(got) != len(files) {
		t.Fatalf("%d instances after recovery, want %d", len(got), len(files))
	}
	for sop, b := range want {
		g, err := os.ReadFile(filepath.Join(dir, sop+".dcm"))

		if err != nil || !bytes.Equal(g, b) {
			t.Fatalf("%s differs after replay (%v)", sop, err)
		}
	}
	if n := len(s2.open["1.2.3.4.1"].instances); n != len(files) {
		t.Fatalf("recovered series has %d instances, want %d", n, len(files))
	}
	// Replayed records are dead: a second restart finds none live.
	s2.j.close()
	s3 := newJournalSpool(t, state)
	recs := 0
	for _, seg := range s3.j.segs {
		recs += seg.committed
	}
	if recs != 0 {
		t.Fatalf("%d live records after a replay and a restart", recs)
	}
}

// TestJournalCheckpointAndCompletion: a checkpoint makes the spool durable
// and resets the segments; a series completes only once its files no
// longer depend on the journal, and a record of a generation already handed
// on is not replayed.
func TestJournalCheckpointAndCompletion(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	files := writeSeries(t, src, "1.2.3.5", "1.2.3.5.1", 3, 64)
	s := newJournalSpool(t, state)
	s.cfg.Timeout = time.Millisecond
	var batches []Batch
	s.cfg.OnBatch = func(b Batch) { batches = append(batches, b) }
	for _, f := range files {
		storeFile(t, s, f)
	}
	time.Sleep(5 * time.Millisecond)
	s.completeDue(time.Now())
	if len(batches) != 0 {
		t.Fatal("series completed before its spool files were written")
	}
	s.writeOut()
	s.completeDue(time.Now())
	if len(batches) != 0 {
		t.Fatal("series completed while its files rested on the journal only")
	}
	// Keep a copy of the segment as it was before the checkpoint: a
	// crash after completion but before the reset would find it so.
	seg := s.j.segs[0]
	before, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	s.checkpoint()
	if seg.committed != 0 || seg.cursor != journalHeaderSize {
		t.Fatalf("segment not reset after the checkpoint: %d records, cursor %d", seg.committed, seg.cursor)
	}
	s.completeDue(time.Now())
	if len(batches) != 1 {
		t.Fatalf("%d batches, want 1", len(batches))
	}
	s.j.close()
	if err := os.WriteFile(seg.path, before, 0o640); err != nil {
		t.Fatal(err)
	}
	s2 := newJournalSpool(t, state)
	if n := countFiles(filepath.Join(state, "spool"), "*/*/*.dcm"); n != 0 || len(s2.open) != 0 {
		t.Fatalf("records of a processed generation replayed: %d files, %d open series", n, len(s2.open))
	}
}

// TestJournalTornAndStaleRecords: a record cut short by a crash and the
// records of an earlier epoch are not live; what precedes them is.
func TestJournalTornAndStaleRecords(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	files := writeSeries(t, src, "1.2.3.6", "1.2.3.6.1", 3, 64)
	s := newJournalSpool(t, state)
	for _, f := range files {
		storeFile(t, s, f)
	}
	seg := s.j.segs[0]
	// Tear the third record: flip a byte of its content.
	recs, err := scanSegment(&segment{path: seg.path, f: seg.f, size: seg.size, epoch: seg.epoch})
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records (%v), want 3", len(recs), err)
	}
	if _, err := seg.f.WriteAt([]byte{0xff ^ readByte(t, seg.f, recs[2].off+200)}, recs[2].off+200); err != nil {
		t.Fatal(err)
	}
	recs, _ = scanSegment(&segment{path: seg.path, f: seg.f, size: seg.size, epoch: seg.epoch})
	if len(recs) != 2 {
		t.Fatalf("%d live records after tearing the last, want 2", len(recs))
	}
	// A new epoch: none of them is live any more.
	if err := seg.reset(); err != nil {
		t.Fatal(err)
	}
	recs, _ = scanSegment(&segment{path: seg.path, f: seg.f, size: seg.size, epoch: seg.epoch})
	if len(recs) != 0 {
		t.Fatalf("%d records of an earlier epoch taken as live", len(recs))
	}
	// A torn segment header: the segment is kept, with no live records.
	if _, err := seg.f.WriteAt([]byte("garbage"), 0); err != nil {
		t.Fatal(err)
	}
	s.j.close()
	s2 := newJournalSpool(t, state)
	if len(s2.j.segs) < 2 {
		t.Fatalf("%d segments after a torn header", len(s2.j.segs))
	}
	if _, err := readSegmentHeader(s2.j.segs[0].f); err != nil {
		t.Fatalf("the torn header was not rewritten: %v", err)
	}
}

func readByte(t *testing.T, f *os.File, off int64) byte {
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	return b[0]
}

// TestJournalFallsBackWhenFull: an instance larger than a segment, and
// instances arriving while every segment is busy, are made durable the
// classic way and still arrive.
func TestJournalFallsBackWhenFull(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	s := newJournalSpool(t, state)
	big := writeSeries(t, src, "1.2.3.7", "1.2.3.7.1", 1, 1600) // ~5 MB > the 4 MiB segment
	small := writeSeries(t, src, "1.2.3.7", "1.2.3.7.2", 1, 64)
	storeFile(t, s, big[0])
	if len(s.unwritten) != 0 {
		t.Fatal("an instance larger than the segment was journaled")
	}
	var held []*segment // every segment busy
	for seg := s.j.acquire(); seg != nil; seg = s.j.acquire() {
		held = append(held, seg)
	}
	storeFile(t, s, small[0])
	if len(s.unwritten) != 0 {
		t.Fatal("an instance was journaled into a busy segment")
	}
	if !s.j.grow {
		t.Fatal("no segment was asked for")
	}
	if n := countFiles(filepath.Join(state, "spool"), "*/*/*.dcm"); n != 2 {
		t.Fatalf("%d instances spooled, want 2", n)
	}
}

// TestJournalSparesAndGrowth: a fresh spool has its spare segments before
// the first instance; when writers find every segment busy, Run makes
// another; a checkpoint on shutdown leaves no live records.
func TestJournalSparesAndGrowth(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	s := newJournalSpool(t, state)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var held []*segment
	for seg := s.j.acquire(); seg != nil; seg = s.j.acquire() {
		held = append(held, seg)
	}
	if len(held) != journalSpares {
		t.Fatalf("%d segments free at start, want %d", len(held), journalSpares)
	}
	waitFor(t, 20*time.Second, "a segment made on demand", func() bool { return s.j.count() > journalSpares })
	for _, seg := range held {
		(&journalWrite{j: s.j, seg: seg}).release()
	}
	for _, f := range writeSeries(t, src, "1.2.3.8", "1.2.3.8.1", 4, 64) {
		storeFile(t, s, f)
	}
	cancel()
	<-done
	if n := testutil.ToFloat64(s.cfg.Metrics.Durable.WithLabelValues("journal")); n != 4 {
		t.Fatalf("%v instances journaled, want 4", n)
	}
	if n := countFiles(filepath.Join(state, "spool"), "*/*/*.dcm"); n != 4 {
		t.Fatalf("%d spool files after shutdown, want 4", n)
	}
	s.j.mu.Lock()
	defer s.j.mu.Unlock()
	for _, seg := range s.j.segs {
		if seg.committed != 0 {
			t.Fatalf("%s: %d live records after shutdown", seg.path, seg.committed)
		}
	}
}

// FuzzScanSegment: whatever a segment file holds, the scan reads only
// within it and allocates no more than its buffers.
func FuzzScanSegment(f *testing.F) {
	rec := func(epoch uint64, content, name []byte, gen uint32) []byte {
		h := make([]byte, recordHeaderSize)
		copy(h, recordMagic[:])
		binary.LittleEndian.PutUint16(h[4:6], journalVersion)
		binary.LittleEndian.PutUint64(h[8:16], epoch)
		binary.LittleEndian.PutUint64(h[16:24], 1)
		binary.LittleEndian.PutUint32(h[24:28], gen)
		binary.LittleEndian.PutUint32(h[28:32], uint32(len(name)))
		binary.LittleEndian.PutUint64(h[32:40], uint64(len(content)))
		crc := crc32.Update(crc32.Update(crc32.Update(0, castagnoli, content), castagnoli, name), castagnoli, h[0:40])
		binary.LittleEndian.PutUint32(h[40:44], crc)
		return append(append(h, content...), name...)
	}
	f0 := rec(1, []byte("DICM data"), []byte("1.2/1.2.3/1.2.3.4"), 1)
	f.Add(f0)
	two := append(rec(1, []byte("first"), []byte("1.2/1.2.3/1.2.3.4"), 1), 0, 0, 0)
	f.Add(append(two, rec(1, []byte("second!"), []byte("1.2/1.2.3/1.2.3.5"), 2)...))
	f.Add(rec(1, nil, []byte("1/2/3"), 1))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		path := filepath.Join(dir, "seg")
		data := append(append(segmentHeader(1), make([]byte, journalHeaderSize-24)...), body...)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		seg := &segment{path: path, f: file, size: int64(len(data)), epoch: 1}
		recs, err := scanSegment(seg)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(body, f0) && len(recs) == 0 {
			t.Fatal("the valid seed record was not found")
		}
		for _, r := range recs {
			if r.off+r.contentLen > seg.size || !dimse.ValidUID(r.sop) {
				t.Fatalf("record outside the segment or with a bad name: %+v", r)
			}
		}
		if seg.cursor > seg.size+7 {
			t.Fatalf("cursor %d past the segment of %d", seg.cursor, seg.size)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestJournalWriteOutRetries: when the spool file cannot be written (here
// the series folder is replaced by a file; on a full disk alike), the
// record stays live, the series does not complete, and the next attempt
// writes it.
func TestJournalWriteOutRetries(t *testing.T) {
	state, src := t.TempDir(), t.TempDir()
	s := newJournalSpool(t, state)
	s.cfg.Timeout = time.Millisecond
	var batches []Batch
	s.cfg.OnBatch = func(b Batch) { batches = append(batches, b) }
	f := writeSeries(t, src, "1.2.3.9", "1.2.3.9.1", 1, 64)[0]
	sop, _ := storeFile(t, s, f)
	dir := filepath.Join(state, "spool", "1.2.3.9", "1.2.3.9.1")
	aside := dir + ".aside"
	if err := os.Rename(dir, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.writeOut()
	if len(s.unwritten) != 1 || len(s.pending) != 0 {
		t.Fatalf("after a failed write: %d unwritten, %d pending; want 1, 0", len(s.unwritten), len(s.pending))
	}
	s.checkpoint()
	time.Sleep(5 * time.Millisecond)
	s.completeDue(time.Now())
	if len(batches) != 0 {
		t.Fatal("series completed while a record was unwritten")
	}
	os.Remove(dir)
	if err := os.Rename(aside, dir); err != nil {
		t.Fatal(err)
	}
	s.writeOut()
	s.checkpoint()
	s.completeDue(time.Now())
	if len(batches) != 1 || !fileExists(filepath.Join(batches[0].Dir, sop+".dcm")) {
		t.Fatalf("after the retry: %d batches", len(batches))
	}
}

// TestJournalFullDisk: with the floor at zero and the disk full, instances
// that fit in the pre-written journal are acknowledged — they are on disk
// — while their spool files cannot be written; instances that do not fit
// get 0xA700; once space returns every acknowledged instance reaches the
// spool.
func TestJournalFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	state := filepath.Join(mnt, "state")
	s, err := NewSpool(SpoolOptions{StateDir: state, Fsync: true, Timeout: time.Hour, Audit: NewAudit(io.Discard, false),
		Log: zerolog.Nop(), journalSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if s.j.count() == 0 {
		t.Fatal("no journal segment on a 24 MiB file system")
	}
	free, err := freeBytes(mnt)
	if err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, free-(64<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	var acked []string
	refused := 0
	for _, f := range writeSeries(t, t.TempDir(), "2.25.16", "2.25.16.1", 120, 256) { // 120 × 131 KB > the journal
		sop, st, err := tryStore(s, f)
		switch {
		case err == nil && st == msg.StatusSuccess:
			acked = append(acked, sop)
		case err != nil && errors.Is(err, dimse.ErrOutOfResources):
			refused++
		default:
			t.Fatalf("%s: status %#x, %v", filepath.Base(f), st, err)
		}
	}
	if len(acked) == 0 || refused == 0 {
		t.Fatalf("%d acknowledged, %d refused: want some of each", len(acked), refused)
	}
	s.writeOut()
	if len(s.unwritten) == 0 {
		t.Fatal("spool files written on a full disk")
	}
	os.Remove(ballast)
	s.writeRetryAt = time.Time{}
	s.writeOut()
	s.checkpoint()
	for _, sop := range acked {
		p := filepath.Join(state, "spool", "2.25.16", "2.25.16.1", sop+".dcm")
		if h, err := ReadHeader(p); err != nil || h.SOPInstanceUID != sop {
			t.Fatalf("acknowledged instance %s not whole in the spool: %v", sop, err)
		}
	}
	t.Logf("%d acknowledged through the journal on a full disk, %d refused with 0xA700", len(acked), refused)
}

// tryStore is storeFile returning the outcome instead of failing.
func tryStore(s *Spool, path string) (string, uint16, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	m, err := part10.ReadMeta(br)
	if err != nil {
		return "", 0, err
	}
	req := &dimse.StoreRequest{SOPClassUID: m.MediaStorageSOPClassUID, SOPInstanceUID: m.MediaStorageSOPInstanceUID,
		TransferSyntaxUID: m.TransferSyntaxUID, Association: &dimse.AssociationInfo{CallingAE: "SCU", CalledAE: "TWEEDIE"}}
	sink, err := s.BeginStore(req)
	if err != nil {
		return req.SOPInstanceUID, 0, err
	}
	if _, err := io.Copy(sink, br); err != nil {
		sink.Close(err)
		return req.SOPInstanceUID, 0, err
	}
	st, err := sink.Close(nil)
	return req.SOPInstanceUID, st, err
}

// TestSpoolRefusesWhenNoTempFile: with no journal segment free and no
// temporary file to be had, C-STORE is refused with Out of Resources at
// once, not with a failure in the middle of the data set.
func TestSpoolRefusesWhenNoTempFile(t *testing.T) {
	state := t.TempDir()
	s, err := NewSpool(SpoolOptions{StateDir: state, Fsync: true, NoJournal: true, Timeout: time.Hour,
		Audit: NewAudit(io.Discard, false), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(state, "tmp")); err != nil {
		t.Fatal(err)
	}
	_, err = s.BeginStore(&dimse.StoreRequest{SOPClassUID: "1.2.840.10008.5.1.4.1.1.4", SOPInstanceUID: "1.2.3",
		TransferSyntaxUID: "1.2.840.10008.1.2.1"})
	if !errors.Is(err, dimse.ErrOutOfResources) {
		t.Fatalf("BeginStore without a temporary folder: %v, want Out of Resources", err)
	}
}
