package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/tweedie-recon/tweedie/dimse"
)

// The spool's write-ahead journal. With fsync on, the classic way to make
// a received instance durable before C-STORE-RSP Success (PS3.4 §B.2.3)
// is fsync of the file, rename, fsync of the folder: on ext4 every one of
// those is a journal commit of the file system, 0.8–1.7 ms per instance on
// the disks measured, and a serial sender (storescu, a modality) waits for
// each. The journal makes one flush per instance enough: the instance's
// bytes are also appended to a segment, a file written full of zeros when
// it was made, so an overwrite changes no metadata and fdatasync(2) is a
// bare flush of the data (0.1–0.2 ms on the same disk). The spool file is
// written and renamed as before but not flushed; a checkpoint in the
// background (syncfs(2), or fsync per file when there are few) makes the
// spool durable by itself, after which the segment's records are dead and
// the segment is reused under a new epoch. After a crash, recovery writes
// every live record's bytes to its spool path again (PostgreSQL's full-page
// images and its checkpointer follow the same idea).
//
// Segment layout: a 4096-byte header (magic, version, epoch, CRC-32C),
// then records, each 8-byte aligned:
//
//	header (48 bytes): magic "TWJR", version, flags, epoch, sequence,
//	                   generation, name length, content length, CRC-32C
//	content            the spool file's bytes (File Meta Information first)
//	name               "<study UID>/<series UID>/<SOP instance UID>"
//
// The header is written last and the CRC covers content, name and
// header, so a record torn by a crash fails its check; a record of an
// earlier epoch fails the epoch test. Records are appended by one writer
// per segment at a time and each is flushed before the next starts, so
// the live records of a segment are exactly the chain from its first
// record up to the first record that fails.

const (
	journalSegmentSize = 32 << 20
	journalMaxSegments = 8
	journalHeaderSize  = 4096
	recordHeaderSize   = 48
	// journalMaxName bounds a record's name: three UIDs and two slashes.
	journalMaxName = 3*64 + 2
	// journalMinRoom: a segment with less room left is not handed out.
	journalMinRoom = 1 << 20
	journalVersion = 1
)

var (
	journalMagic = [8]byte{'T', 'W', 'E', 'E', 'J', 'R', 'N', 'L'}
	recordMagic  = [4]byte{'T', 'W', 'J', 'R'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// segment is one journal file.
type segment struct {
	path      string
	f         *os.File
	size      int64
	epoch     uint64
	cursor    int64 // where the next record starts
	committed int   // records committed in this epoch
	synced    int   // of those, how many a checkpoint made durable in the spool
	busy      bool  // a writer holds it
	broken    bool  // a write or flush failed: never handed out again
}

// journal is the set of segments under STATE/journal.
type journal struct {
	dir  string
	log  zerolog.Logger
	size int64 // segment size
	max  int   // segments at most

	mu   sync.Mutex
	segs []*segment
	seq  uint64
	grow bool // a writer found no segment: make one
}

func openJournal(dir string, log zerolog.Logger) (*journal, error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, err
	}
	return &journal{dir: dir, log: log, size: journalSegmentSize, max: journalMaxSegments}, nil
}

// journalRecord is a live record found by recovery.
type journalRecord struct {
	seg        *segment
	off        int64 // content offset
	contentLen int64
	seq        uint64
	gen        int
	study      string
	series     string
	sop        string
}

// load opens the segments on disk and returns their live records in the
// order they were committed.
func (j *journal) load() ([]journalRecord, error) {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, err
	}
	var recs []journalRecord
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(j.dir, name)
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(path) // a segment whose making was interrupted
			continue
		}
		if !strings.HasPrefix(name, "seg-") {
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		st, err := f.Stat()
		if err != nil || st.Size() < journalHeaderSize+journalMinRoom || st.Size() > 1<<30 {
			f.Close()
			j.log.Warn().Str("segment", path).Msg("journal: segment of a wrong size removed")
			os.Remove(path)
			continue
		}
		seg := &segment{path: path, f: f, size: st.Size(), cursor: journalHeaderSize}
		seg.epoch, err = readSegmentHeader(f)
		if err != nil {
			// A torn header: the segment was being reset, which happens
			// only after every record in it was checkpointed.
			j.log.Warn().Err(err).Str("segment", path).Msg("journal: segment header unreadable; no live records")
		} else {
			rs, err := scanSegment(seg)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rs...)
		}
		j.segs = append(j.segs, seg)
	}
	sort.Slice(recs, func(a, b int) bool { return recs[a].seq < recs[b].seq })
	if n := len(recs); n > 0 {
		j.seq = recs[n-1].seq
	}
	return recs, nil
}

func readSegmentHeader(f *os.File) (uint64, error) {
	var h [24]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return 0, err
	}
	if [8]byte(h[0:8]) != journalMagic {
		return 0, errors.New("not a tweedie journal segment")
	}
	if v := binary.LittleEndian.Uint32(h[8:12]); v != journalVersion {
		return 0, fmt.Errorf("journal version %d, want %d", v, journalVersion)
	}
	if crc32.Checksum(h[0:20], castagnoli) != binary.LittleEndian.Uint32(h[20:24]) {
		return 0, errors.New("segment header checksum mismatch")
	}
	return binary.LittleEndian.Uint64(h[12:20]), nil
}

func segmentHeader(epoch uint64) []byte {
	h := make([]byte, 24)
	copy(h, journalMagic[:])
	binary.LittleEndian.PutUint32(h[8:12], journalVersion)
	binary.LittleEndian.PutUint64(h[12:20], epoch)
	binary.LittleEndian.PutUint32(h[20:24], crc32.Checksum(h[0:20], castagnoli))
	return h
}

// scanSegment follows the record chain of the segment's epoch. Every
// length is checked against the segment before anything is read.
func scanSegment(seg *segment) ([]journalRecord, error) {
	var out []journalRecord
	off := int64(journalHeaderSize)
	buf := make([]byte, 64<<10)
scan:
	for off+recordHeaderSize <= seg.size {
		var h [recordHeaderSize]byte
		if _, err := seg.f.ReadAt(h[:], off); err != nil {
			break
		}
		if [4]byte(h[0:4]) != recordMagic || binary.LittleEndian.Uint16(h[4:6]) != journalVersion ||
			binary.LittleEndian.Uint64(h[8:16]) != seg.epoch {
			break
		}
		seq := binary.LittleEndian.Uint64(h[16:24])
		gen := binary.LittleEndian.Uint32(h[24:28])
		nameLen := int64(binary.LittleEndian.Uint32(h[28:32]))
		contentLen := int64(binary.LittleEndian.Uint64(h[32:40]))
		content := off + recordHeaderSize
		if nameLen <= 0 || nameLen > journalMaxName || contentLen < 0 || contentLen > seg.size ||
			content+contentLen+nameLen > seg.size || gen == 0 || gen > 1<<30 {
			break
		}
		crc := uint32(0)
		sr := io.NewSectionReader(seg.f, content, contentLen+nameLen)
		var name []byte
		for read := int64(0); read < contentLen+nameLen; {
			n, err := sr.Read(buf)
			if n > 0 {
				crc = crc32.Update(crc, castagnoli, buf[:n])
				// The name is the last nameLen bytes.
				if read+int64(n) > contentLen {
					from := max(0, contentLen-read)
					name = append(name, buf[from:n]...)
				}
				read += int64(n)
			}
			if err != nil {
				if read < contentLen+nameLen {
					break scan
				}
				break
			}
		}
		crc = crc32.Update(crc, castagnoli, h[0:40])
		if crc != binary.LittleEndian.Uint32(h[40:44]) {
			break
		}
		parts := strings.Split(string(name), "/")
		if len(parts) != 3 || !dimse.ValidUID(parts[0]) || !dimse.ValidUID(parts[1]) || !dimse.ValidUID(parts[2]) {
			break
		}
		out = append(out, journalRecord{seg: seg, off: content, contentLen: contentLen, seq: seq, gen: int(gen),
			study: parts[0], series: parts[1], sop: parts[2]})
		seg.committed++
		off = align8(content + contentLen + nameLen)
	}
	seg.cursor = off
	return out, nil
}

func align8(n int64) int64 { return (n + 7) &^ 7 }

// newEpoch draws a random epoch other than old. Random rather than
// counted: a segment whose header was torn restarts with no knowledge of
// its earlier epochs, and a sender cannot guess one to plant a record in
// the content of an instance that is then dropped.
func newEpoch(old uint64) uint64 {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 && e != old {
			return e
		}
	}
}

// resetAll starts a new epoch in every segment but those to keep (they
// hold records recovery could not write; they are not used until a later
// start writes them): called once recovery has made every other live
// record durable in the spool.
func (j *journal) resetAll(keep map[*segment]bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, seg := range j.segs {
		if keep[seg] {
			seg.broken = true
			continue
		}
		if err := seg.reset(); err != nil {
			return fmt.Errorf("journal: resetting %s: %w", seg.path, err)
		}
	}
	return nil
}

// reset writes a new epoch into the header: the records of the last one
// are dead from then on.
func (seg *segment) reset() error {
	seg.epoch = newEpoch(seg.epoch)
	if _, err := seg.f.WriteAt(segmentHeader(seg.epoch), 0); err != nil {
		return err
	}
	if err := syscall.Fdatasync(int(seg.f.Fd())); err != nil {
		return err
	}
	seg.cursor, seg.committed, seg.synced = journalHeaderSize, 0, 0
	return nil
}

// acquire hands out a segment with room, or nil (the caller then makes
// its instance durable the classic way, and a segment is made in the
// background).
func (j *journal) acquire() *segment {
	j.mu.Lock()
	defer j.mu.Unlock()
	var best *segment
	for _, seg := range j.segs {
		if seg.busy || seg.broken || seg.size-seg.cursor < journalMinRoom {
			continue
		}
		// Prefer the fullest segment with room: the others then empty
		// out sooner and are reset.
		if best == nil || seg.cursor > best.cursor {
			best = seg
		}
	}
	if best == nil {
		if len(j.segs) < j.max {
			j.grow = true
		}
		return nil
	}
	best.busy = true
	return best
}

func (j *journal) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.segs)
}

// needsGrow reports (and clears) a writer's request for a segment.
func (j *journal) needsGrow() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	g := j.grow && len(j.segs) < j.max
	j.grow = false
	return g
}

// makeSegment writes a new segment full of zeros, so that later records
// overwrite allocated blocks and their fdatasync flushes data only.
func (j *journal) makeSegment() error {
	j.mu.Lock()
	n := len(j.segs)
	j.mu.Unlock()
	var path string
	for i := n; ; i++ {
		path = filepath.Join(j.dir, "seg-"+strconv.Itoa(i))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for off := int64(0); off < j.size && err == nil; off += int64(len(zero)) {
		_, err = f.Write(zero)
	}
	epoch := newEpoch(0)
	if err == nil {
		_, err = f.WriteAt(segmentHeader(epoch), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	seg := &segment{path: path, f: f, size: j.size, epoch: epoch, cursor: journalHeaderSize}
	j.mu.Lock()
	j.segs = append(j.segs, seg)
	j.mu.Unlock()
	return nil
}

// checkpointed records that n committed records of seg are durable in the
// spool, and resets the segments whose records are all dead.
func (j *journal) checkpointed(done map[*segment]int) {
	j.mu.Lock()
	var idle []*segment
	for seg, n := range done {
		seg.synced += n
	}
	for _, seg := range j.segs {
		if !seg.busy && !seg.broken && seg.committed > 0 && seg.synced >= seg.committed {
			seg.busy = true // nobody writes while it is reset
			idle = append(idle, seg)
		}
	}
	j.mu.Unlock()
	for _, seg := range idle {
		err := seg.reset()
		j.mu.Lock()
		seg.busy = false
		if err != nil {
			seg.broken = true
		}
		j.mu.Unlock()
		if err != nil {
			j.log.Error().Err(err).Str("segment", seg.path).Msg("journal: reset failed; segment retired")
		}
	}
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, seg := range j.segs {
		seg.f.Close()
	}
}

// journalWrite is one instance's record being written.
type journalWrite struct {
	j      *journal
	seg    *segment
	start  int64 // the record's offset
	off    int64 // where the next content byte goes
	crc    uint32
	failed bool // no room or a write failed: the classic path takes over
}

func (j *journal) begin() *journalWrite {
	seg := j.acquire()
	if seg == nil {
		return nil
	}
	return &journalWrite{j: j, seg: seg, start: seg.cursor, off: seg.cursor + recordHeaderSize}
}

// write appends p to the record's content; false: it does not fit in the
// segment, or the write failed (what was written before stays readable
// through content).
func (w *journalWrite) write(p []byte) bool {
	if w.failed {
		return false
	}
	if w.off+int64(len(p))+journalMaxName > w.seg.size {
		w.failed = true
		return false
	}
	if _, err := w.seg.f.WriteAt(p, w.off); err != nil {
		w.failed = true
		w.j.mu.Lock()
		w.seg.broken = true
		w.j.mu.Unlock()
		w.j.log.Error().Err(err).Str("segment", w.seg.path).Msg("journal: write failed; segment retired")
		return false
	}
	w.crc = crc32.Update(w.crc, castagnoli, p)
	w.off += int64(len(p))
	return true
}

// content reads the record's content written so far.
func (w *journalWrite) content() *io.SectionReader {
	start := w.start + recordHeaderSize
	return io.NewSectionReader(w.seg.f, start, w.off-start)
}

// commit writes the record's name and header and flushes the segment:
// once it returns nil the instance survives a crash.
func (w *journalWrite) commit(study, series, sop string, gen int) error {
	name := []byte(study + "/" + series + "/" + sop)
	if len(name) > journalMaxName {
		return errors.New("journal: record name too long")
	}
	if _, err := w.seg.f.WriteAt(name, w.off); err != nil {
		return w.fail(err)
	}
	w.j.mu.Lock()
	w.j.seq++
	seq := w.j.seq
	w.j.mu.Unlock()
	var h [recordHeaderSize]byte
	copy(h[0:4], recordMagic[:])
	binary.LittleEndian.PutUint16(h[4:6], journalVersion)
	binary.LittleEndian.PutUint64(h[8:16], w.seg.epoch)
	binary.LittleEndian.PutUint64(h[16:24], seq)
	binary.LittleEndian.PutUint32(h[24:28], uint32(gen))
	binary.LittleEndian.PutUint32(h[28:32], uint32(len(name)))
	binary.LittleEndian.PutUint64(h[32:40], uint64(w.off-w.start-recordHeaderSize))
	crc := crc32.Update(w.crc, castagnoli, name)
	binary.LittleEndian.PutUint32(h[40:44], crc32.Update(crc, castagnoli, h[0:40]))
	if _, err := w.seg.f.WriteAt(h[:], w.start); err != nil {
		return w.fail(err)
	}
	if err := syscall.Fdatasync(int(w.seg.f.Fd())); err != nil {
		return w.fail(err)
	}
	w.j.mu.Lock()
	w.seg.cursor = align8(w.off + int64(len(name)))
	w.seg.committed++
	w.seg.busy = false
	w.j.mu.Unlock()
	return nil
}

// fail retires the segment: after a failed write or flush its contents
// are uncertain. Its records are still replayed after a crash, which
// writes the same bytes the classic path made durable.
func (w *journalWrite) fail(err error) error {
	w.j.mu.Lock()
	w.seg.broken = true
	w.seg.busy = false
	w.j.mu.Unlock()
	w.j.log.Error().Err(err).Str("segment", w.seg.path).Msg("journal: write failed; segment retired")
	return err
}

// release gives the segment back without a record (the instance was not
// kept, or goes the classic way).
func (w *journalWrite) release() {
	if w == nil {
		return
	}
	w.j.mu.Lock()
	w.seg.busy = false
	w.j.mu.Unlock()
}

// syncFS flushes the whole file system holding dir (syncfs(2)): one
// journal commit for every file and folder entry written since.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
