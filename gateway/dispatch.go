package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/dimse"
)

// Outbox is the durable queue of one destination: a folder
// STATE/outbox/<destination>/ of Part 10 files named by their SOP Instance
// UID, so that putting the same output twice (a job run again after a
// crash) leaves one file, and a resend is the same instance. A file leaves
// the outbox only after the destination answered Success or a warning
// (PS3.4 §B.2.3), or, after MaxAttempts failed attempts with exponential
// backoff, into STATE/dead-letter/<destination>/ with a JSON reason.
// Attempts are kept beside each file in "<name>.attempts".
type Outbox struct {
	Dest conf.Destination
	dir  string
	dead string
	opt  DispatchOptions
	// sender delivers to the destination; the outbox knows it only by the
	// Sender interface (destination.go).
	sender Sender

	wake chan struct{}
	mu   sync.Mutex
	// down counts consecutive failures to reach the destination; the
	// next try waits backoff(down).
	down int
}

// DispatchOptions is the retry policy of the outboxes.
type DispatchOptions struct {
	MaxAttempts    int
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	Batch          int
	Audit          *Audit
	Metrics        *Metrics
	Log            zerolog.Logger
}

// attemptRecord is the sidecar of a file that failed at least once.
type attemptRecord struct {
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error"`
}

// NewOutbox opens the outbox of a destination under stateDir.
func NewOutbox(stateDir string, d conf.Destination, o DispatchOptions) (*Outbox, error) {
	ob := &Outbox{Dest: d, dir: filepath.Join(stateDir, "outbox", d.Name), dead: filepath.Join(stateDir, "dead-letter", d.Name),
		opt: o, wake: make(chan struct{}, 1)}
	if ob.opt.Batch <= 0 {
		ob.opt.Batch = 64
	}
	for _, dir := range []string{ob.dir, ob.dead} {
		if err := mkdirDurable(dir); err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	snd, err := NewSender(d, o.Log)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.Name, err)
	}
	ob.sender = snd
	// Links half made before a crash.
	entries, _ := os.ReadDir(ob.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			os.Remove(filepath.Join(ob.dir, e.Name()))
		}
	}
	return ob, nil
}

// Put adds files to the outbox (hard links where possible), each named by
// its SOP Instance UID and durable when Put returns.
func (ob *Outbox) Put(files []string) error {
	for _, f := range files {
		fi, err := dimse.ReadFileInfo(f)
		if err != nil {
			return err
		}
		if !dimse.ValidUID(fi.SOPInstanceUID) {
			return fmt.Errorf("%s: invalid SOP Instance UID", f)
		}
		dst := filepath.Join(ob.dir, fi.SOPInstanceUID+".dcm")
		if err := linkOrCopy(f, dst); err != nil {
			return fmt.Errorf("outbox %s: %w", ob.Dest.Name, err)
		}
		os.Remove(dst + ".attempts")
	}
	if err := syncDir(ob.dir); err != nil {
		return err
	}
	ob.Poke()
	return nil
}

// Poke wakes the dispatcher.
func (ob *Outbox) Poke() {
	select {
	case ob.wake <- struct{}{}:
	default:
	}
}

// Pending lists the files waiting, sorted.
func (ob *Outbox) Pending() []string {
	entries, _ := os.ReadDir(ob.dir)
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".dcm") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(ob.dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func (ob *Outbox) backoff(n int) time.Duration {
	d := ob.opt.BackoffInitial
	for i := 1; i < n && d < ob.opt.BackoffMax; i++ {
		d *= 2
	}
	return min(d, ob.opt.BackoffMax)
}

// Run sends until ctx ends.
func (ob *Outbox) Run(ctx context.Context) {
	log := ob.opt.Log.With().Str("destination", ob.Dest.Name).Logger()
	poll := max(ob.opt.BackoffInitial, 200*time.Millisecond)
	for {
		now := time.Now()
		pending := ob.Pending()
		if ob.opt.Metrics != nil {
			ob.opt.Metrics.OutboxPending.WithLabelValues(ob.Dest.Name).Set(float64(len(pending)))
		}
		var ready []string
		next := now.Add(poll * 10)
		for _, f := range pending {
			var rec attemptRecord
			if err := readJSON(f+".attempts", &rec); err == nil && rec.NextAt.After(now) {
				next = minTime(next, rec.NextAt)
				continue
			}
			ready = append(ready, f)
			if len(ready) == ob.opt.Batch {
				break
			}
		}
		if len(ready) > 0 {
			if err := ob.send(ctx, ready, log); err != nil {
				ob.down++
				wait := ob.backoff(ob.down)
				log.Warn().Err(err).Int("failures", ob.down).Dur("retry_in", wait).Msg("destination unreachable")
				next = now.Add(wait)
			} else {
				ob.down = 0
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ob.wake:
		case <-time.After(time.Until(next)):
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// send delivers one batch. It returns an error when the destination could
// not be reached at all (every file's attempt counts); failures of single
// instances are recorded on those files.
func (ob *Outbox) send(ctx context.Context, files []string, log zerolog.Logger) error {
	var infos []dimse.FileInfo
	for _, f := range files {
		fi, err := dimse.ReadFileInfo(f)
		if err != nil {
			ob.failed(f, fmt.Errorf("unreadable: %w", err), true, log)
			continue
		}
		infos = append(infos, fi)
	}
	if len(infos) == 0 {
		return nil
	}
	var sent []sentItem
	err := ob.sender.Send(log.WithContext(ctx), infos, func(r Result) {
		if r.Err == nil {
			sent = append(sent, ob.done(r.File))
		} else {
			ob.failed(r.File.Path, r.Err, r.Final, log)
		}
	})
	ob.auditSent(sent, ob.sender.Peer(), log)
	return err
}

// sentItem is a delivered instance, for the audit event.
type sentItem struct{ sopClass, study string }

// done removes a delivered file.
func (ob *Outbox) done(fi dimse.FileInfo) sentItem {
	it := sentItem{sopClass: fi.SOPClassUID}
	if h, err := ReadHeader(fi.Path); err == nil {
		it.study = h.StudyUID
	}
	os.Remove(fi.Path)
	os.Remove(fi.Path + ".attempts")
	if ob.opt.Metrics != nil {
		ob.opt.Metrics.Dispatched.WithLabelValues(ob.Dest.Name, "sent").Inc()
	}
	return it
}

// failed counts an attempt; the last one moves the file to the
// dead-letter folder.
func (ob *Outbox) failed(path string, cause error, final bool, log zerolog.Logger) {
	var rec attemptRecord
	_ = readJSON(path+".attempts", &rec)
	rec.Attempts++
	rec.LastError = cause.Error()
	if final || rec.Attempts >= ob.opt.MaxAttempts {
		ob.deadLetter(path, rec, log)
		return
	}
	rec.NextAt = time.Now().Add(ob.backoff(rec.Attempts))
	if err := writeJSONDurable(path+".attempts", rec); err != nil {
		log.Error().Err(err).Str("file", filepath.Base(path)).Msg("cannot record the attempt")
	}
	if ob.opt.Metrics != nil {
		ob.opt.Metrics.Dispatched.WithLabelValues(ob.Dest.Name, "retry").Inc()
	}
}

// deadLetterReason is the machine-readable reason beside a dead letter.
type deadLetterReason struct {
	Destination string    `json:"destination"`
	File        string    `json:"file"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error"`
	At          time.Time `json:"at"`
}

func (ob *Outbox) deadLetter(path string, rec attemptRecord, log zerolog.Logger) {
	name := filepath.Base(path)
	dst := filepath.Join(ob.dead, name)
	reason := deadLetterReason{Destination: ob.Dest.Name, File: name, Attempts: rec.Attempts, LastError: rec.LastError, At: time.Now().UTC()}
	if err := writeJSONDurable(dst+".reason.json", reason); err != nil {
		log.Error().Err(err).Msg("cannot write the dead-letter reason")
	}
	if err := os.Rename(path, dst); err != nil {
		log.Error().Err(err).Msg("cannot move to the dead-letter folder")
		return
	}
	os.Remove(path + ".attempts")
	_ = syncDir(ob.dead)
	_ = syncDir(ob.dir)
	log.Error().Str("file", name).Int("attempts", rec.Attempts).Str("last_error", rec.LastError).Msg("instance moved to the dead-letter folder")
	if ob.opt.Metrics != nil {
		ob.opt.Metrics.Dispatched.WithLabelValues(ob.Dest.Name, "dead_letter").Inc()
	}
	ob.opt.Audit.Event("instances-transfer-failed", AuditInstancesTransfered, AuditEventID{}, "R", OutcomeSerious).
		Str("destination", ob.Dest.Name).Str("destination_ae", ob.Dest.AETitle).Str("sop_instance_uid", strings.TrimSuffix(name, ".dcm")).
		Int("attempts", rec.Attempts).Str("description", rec.LastError).Send()
}

// auditSent writes PS3.15 §A.5.3.5 DICOM Instances Transferred (action R,
// the sender's side) for a delivered group, one event per study.
func (ob *Outbox) auditSent(items []sentItem, destAE string, log zerolog.Logger) {
	if len(items) == 0 {
		return
	}
	type st struct {
		n       int
		classes map[string]bool
	}
	studies := map[string]*st{}
	for _, it := range items {
		s := studies[it.study]
		if s == nil {
			s = &st{classes: map[string]bool{}}
			studies[it.study] = s
		}
		s.n++
		s.classes[it.sopClass] = true
	}
	for study, s := range studies {
		ob.opt.Audit.Event("instances-transferred", AuditInstancesTransfered, AuditEventID{}, "R", OutcomeSuccess).
			Str("destination", ob.Dest.Name).Str("destination_ae", destAE).Str("source_ae", ob.Dest.CallingAE).
			Str("study_uid", study).Strs("sop_class_uids", sortedKeys(s.classes)).Int("instances", s.n).Send()
	}
	log.Info().Int("instances", len(items)).Msg("sent")
}
