package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
)

// JetStream names. The job stream is a work queue (each message is
// consumed once, by one worker); job outcomes live in a key-value bucket,
// and series data for workers on other machines in an object store.
const (
	JobStream     = "TWEEDIE_JOBS"
	JobSubject    = "tweedie.jobs"
	JobConsumer   = "workers"
	StatusBucket  = "tweedie_job_status"
	InputsBucket  = "tweedie_inputs"
	dedupWindow   = time.Hour
	statusHistory = 1
)

// Queue is the durable job queue on NATS JetStream: embedded in-process
// (file storage in the state folder, fsynced on every write, no listener
// unless nats.listen says so) or an external cluster (nats.url).
type Queue struct {
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	job jetstream.Consumer
	kv  jetstream.KeyValue
	obj jetstream.ObjectStore
	// Shared: workers may run on other machines, so inputs go through
	// the object store.
	Shared bool
	log    zerolog.Logger
}

// OpenQueue starts or joins JetStream and creates the stream, consumer and
// buckets if they are missing.
func OpenQueue(ctx context.Context, stateDir string, c conf.NATSConfig, j conf.JobsConfig, log zerolog.Logger) (*Queue, error) {
	q := &Queue{log: log}
	var opts []nats.Option
	opts = append(opts, nats.Name("tweedie"), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond))
	url := c.URL
	if url == "" {
		store := c.StoreDir
		if store == "" {
			store = filepath.Join(stateDir, "jetstream")
		}
		so := &server.Options{ServerName: "tweedie", JetStream: true, StoreDir: store, NoSigs: true, NoLog: c.Listen == "",
			SyncAlways: true, DontListen: c.Listen == ""}
		if c.Listen != "" {
			host, port, err := net.SplitHostPort(c.Listen)
			if err != nil {
				return nil, fmt.Errorf("nats.listen: %w", err)
			}
			so.Host = host
			if so.Port, err = strconv.Atoi(port); err != nil {
				return nil, fmt.Errorf("nats.listen: port %q: %w", port, err)
			}
			if so.Port == 0 {
				so.Port = server.RANDOM_PORT // NATS takes 0 for its default, 4222
			}
			q.Shared = true
		}
		if err := serverSecurity(c, so); err != nil {
			return nil, err
		}
		ns, err := server.NewServer(so)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		if !so.NoLog {
			ns.SetLoggerV2(natsLogger{log}, false, false, false)
		}
		ns.Start()
		if !ns.ReadyForConnections(30 * time.Second) {
			ns.Shutdown()
			return nil, errors.New("embedded NATS did not start within 30s (is nats.listen in use, or the JetStream folder locked?)")
		}
		q.ns = ns
		opts = append(opts, nats.InProcessServer(ns))
	} else {
		q.Shared = true
	}
	sec, err := clientOptions(c, q.ns != nil)
	if err != nil {
		q.Close()
		return nil, err
	}
	opts = append(opts, sec...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("connecting to NATS %s: %w", url, err)
	}
	q.nc = nc
	if q.js, err = jetstream.New(nc); err != nil {
		q.Close()
		return nil, err
	}
	if err := q.setup(ctx, j); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

func (q *Queue) setup(ctx context.Context, j conf.JobsConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: JobStream, Subjects: []string{JobSubject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: dedupWindow})
	if err != nil {
		return fmt.Errorf("job stream: %w", err)
	}
	// Attempts are bounded by the worker (it quarantines), so the server
	// redelivers without limit: a worker that dies mid-job must not lose it.
	q.job, err = st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: JobConsumer, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Duration(j.AckWait), MaxDeliver: -1, FilterSubject: JobSubject, MaxAckPending: 1000})
	if err != nil {
		return fmt.Errorf("job consumer: %w", err)
	}
	if q.kv, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StatusBucket, History: statusHistory,
		Storage: jetstream.FileStorage, TTL: 30 * 24 * time.Hour}); err != nil {
		return fmt.Errorf("job status bucket: %w", err)
	}
	if q.obj, err = q.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: InputsBucket, Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("inputs object store: %w", err)
	}
	return nil
}

// ClientURL is the embedded server's URL for remote workers ("" without
// a listener).
func (q *Queue) ClientURL() string {
	if q.ns == nil || !q.Shared {
		return ""
	}
	return q.ns.ClientURL()
}

// Connected reports whether the connection to NATS is up.
func (q *Queue) Connected() bool { return q.nc != nil && q.nc.IsConnected() }

// Close drains the connection and stops the embedded server, which
// flushes its files.
func (q *Queue) Close() {
	if q.nc != nil {
		_ = q.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !q.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		q.nc.Close()
	}
	if q.ns != nil {
		q.ns.Shutdown()
		q.ns.WaitForShutdown()
	}
}

// Publish enqueues a job; the message ID is the job ID, so publishing
// again after a crash (within the hour) is a no-op.
func (q *Queue) Publish(ctx context.Context, job Job) error {
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	_, err = q.js.Publish(ctx, JobSubject, b, jetstream.WithMsgID(job.ID), jetstream.WithExpectStream(JobStream))
	if err != nil {
		return fmt.Errorf("publishing job %s: %w", job.ID, err)
	}
	return nil
}

// UploadInputs puts a batch's files into the object store as
// "<batch>/<file name>".
func (q *Queue) UploadInputs(ctx context.Context, batch string, files []string) error {
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		_, err = q.obj.Put(ctx, jetstream.ObjectMeta{Name: batch + "/" + filepath.Base(f)}, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("uploading %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// DeleteInputs removes a batch's objects.
func (q *Queue) DeleteInputs(ctx context.Context, batch string, names []string) {
	for _, n := range names {
		if err := q.obj.Delete(ctx, batch+"/"+n); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			q.log.Warn().Err(err).Str("batch", batch).Msg("deleting inputs from the object store")
		}
	}
}

// JobStatus is a job's outcome in the status bucket.
type JobStatus struct {
	State   string    `json:"state"` // "done" or "quarantined"
	Worker  string    `json:"worker"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	Outputs int       `json:"outputs"`
}

// statusKey turns a job ID into a key-value key (letters, digits, '-',
// '_', '.', '=' and '/').
func statusKey(id string) string { return id }

// Status returns a job's recorded outcome.
func (q *Queue) Status(ctx context.Context, id string) (JobStatus, bool) {
	e, err := q.kv.Get(ctx, statusKey(id))
	if err != nil {
		return JobStatus{}, false
	}
	var s JobStatus
	if json.Unmarshal(e.Value(), &s) != nil {
		return JobStatus{}, false
	}
	return s, true
}

func (q *Queue) setStatus(ctx context.Context, id string, s JobStatus) error {
	b, _ := json.Marshal(s)
	_, err := q.kv.Put(ctx, statusKey(id), b)
	return err
}

// WatchStatus calls fn for every recorded outcome, those already there
// first, until ctx ends.
func (q *Queue) WatchStatus(ctx context.Context, fn func(id string, s JobStatus)) error {
	w, err := q.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				// The keys and values are queue messages too: only a job
				// ID and a known state reach the batch clean-up.
				var s JobStatus
				_, okID := ValidJobID(e.Key())
				if !okID || json.Unmarshal(e.Value(), &s) != nil || (s.State != "done" && s.State != "quarantined") {
					q.log.Warn().Str("key", clip(e.Key())).Msg("invalid job status entry ignored")
					continue
				}
				fn(e.Key(), s)
			}
		}
	}()
	return nil
}

// WorkerOptions configures the workers of one process.
type WorkerOptions struct {
	Name        string // for the audit stream and the status bucket
	StateDir    string
	Runners     map[string]Runner
	Outboxes    map[string]*Outbox
	MaxAttempts int
	AckWait     time.Duration
	RetryDelay  time.Duration
	Audit       *Audit
	Metrics     *Metrics
	Log         zerolog.Logger
	// JobTimeout ends a job's run (its context) after this long, and
	// stops its heartbeat, so that a run that ignores its context is
	// delivered again after ack_wait instead of being kept alive; 0: none.
	JobTimeout time.Duration
	// OnJob is told when a job starts (running) and ends.
	OnJob func(job Job, running bool)
}

// RunWorkers runs n workers until ctx ends; a job in progress when ctx
// ends is given back (Nak) to be run again.
func (q *Queue) RunWorkers(ctx context.Context, n int, o WorkerOptions) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := &worker{q: q, o: o, id: fmt.Sprintf("%s/%d", o.Name, i), log: o.Log.With().Str("worker", fmt.Sprintf("%s/%d", o.Name, i)).Logger()}
			w.loop(ctx)
		}(i)
	}
	return &wg
}

type worker struct {
	q   *Queue
	o   WorkerOptions
	id  string
	log zerolog.Logger
}

func (w *worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		m, err := w.q.job.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				w.log.Debug().Err(err).Msg("fetching a job")
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
			continue
		}
		w.handle(ctx, m)
	}
}

// handle runs one delivery of a job: inputs, runner, outboxes, status,
// acknowledgement, in that order, so that a crash at any point leaves the
// job to be delivered again and its outputs (named by deterministic UIDs)
// to be put again over themselves.
func (w *worker) handle(ctx context.Context, m jetstream.Msg) {
	job, err := DecodeJob(m.Data())
	if err != nil {
		w.refuse(m, err)
		return
	}
	log := w.log.With().Str("job", job.ID).Logger()
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	if _, done := w.q.Status(ctx, job.ID); done {
		// Finished before a crash that lost the acknowledgement.
		_ = m.DoubleAck(ctx)
		return
	}
	work := filepath.Join(w.o.StateDir, "work", job.ID)
	defer os.RemoveAll(work)
	if attempt > w.o.MaxAttempts {
		w.quarantine(ctx, m, job, nil, fmt.Sprintf("delivered %d times (jobs.max_attempts %d): a worker died or stalled on it each time", attempt, w.o.MaxAttempts), attempt, log)
		return
	}
	if w.o.OnJob != nil {
		w.o.OnJob(job, true)
		defer w.o.OnJob(job, false)
	}
	runCtx, stopRun := ctx, context.CancelFunc(func() {})
	if w.o.JobTimeout > 0 {
		runCtx, stopRun = context.WithTimeout(ctx, w.o.JobTimeout)
	}
	defer stopRun()
	hb, stopHB := context.WithCancel(runCtx)
	defer stopHB()
	go func() {
		t := time.NewTicker(max(w.o.AckWait/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	t0 := time.Now()
	w.o.Audit.Event("job-started", AuditInstancesAccessed, AuditEventID{}, "E", OutcomeSuccess).Str("job", job.ID).
		Str("kind", job.Kind).Str("reconstructor", job.Reconstructor).Str("rule", job.Rule).Str("worker", w.id).
		Str("study_uid", job.StudyUID).Str("series_uid", job.SeriesUID).Int("instances", len(job.Inputs)).Int("attempt", attempt).Send()
	log.Info().Str("kind", job.Kind).Int("attempt", attempt).Int("inputs", len(job.Inputs)).Msg("job started")

	inputs, err := w.inputs(ctx, job, work)
	var outputs []string
	if err == nil {
		outputs, err = w.run(runCtx, job, inputs, work)
		if err != nil && runCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = Permanent(fmt.Errorf("ran longer than jobs.timeout (%s) and was ended: %w", w.o.JobTimeout, err))
		}
	}
	if err == nil {
		// an MRD session waiting for these images gets them (mrd.go)
		err = mrdKeepResults(w.o.StateDir, job, outputs)
	}
	if err == nil {
		for _, d := range job.Destinations {
			ob := w.o.Outboxes[d]
			if ob == nil {
				err = Permanent(fmt.Errorf("destination %q is not configured on worker %s", d, w.o.Name))
				break
			}
			if err = ob.Put(outputs); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = w.q.setStatus(ctx, job.ID, JobStatus{State: "done", Worker: w.id, At: time.Now().UTC(), Outputs: len(outputs)})
	}
	stopHB()
	if err != nil {
		if ctx.Err() != nil {
			_ = m.Nak() // shutting down: another run will do it
			return
		}
		var perm *PermanentError
		if errors.As(err, &perm) || attempt >= w.o.MaxAttempts {
			w.quarantine(ctx, m, job, inputs, err.Error(), attempt, log)
			return
		}
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", w.o.RetryDelay).Msg("job failed; will retry")
		w.metric(func(mt *Metrics) { mt.Jobs.WithLabelValues("retry").Inc() })
		w.o.Audit.Event("job-failed", AuditInstancesAccessed, AuditEventID{}, "E", OutcomeMinorFailure).Str("job", job.ID).
			Str("worker", w.id).Int("attempt", attempt).Str("description", err.Error()+"; will retry").Send()
		_ = m.NakWithDelay(w.o.RetryDelay)
		return
	}
	w.metric(func(mt *Metrics) {
		mt.Jobs.WithLabelValues("done").Inc()
		mt.JobSeconds.Observe(time.Since(t0).Seconds())
	})
	w.o.Audit.Event("job-finished", AuditInstancesAccessed, AuditEventID{}, "C", OutcomeSuccess).Str("job", job.ID).
		Str("kind", job.Kind).Str("worker", w.id).Str("study_uid", job.StudyUID).Str("series_uid", job.SeriesUID).
		Strs("destinations", job.Destinations).Int("outputs", len(outputs)).Int("attempt", attempt).Send()
	log.Info().Int("outputs", len(outputs)).Dur("took", time.Since(t0).Round(time.Millisecond)).Msg("job finished")
	if err := m.DoubleAck(ctx); err != nil {
		log.Warn().Err(err).Msg("acknowledgement not confirmed; a redelivery will find the job done")
	}
}

// refuse terminates a job message that is not valid (DecodeJob): it is
// not run, not redelivered (JetStream AckTerm, "+TERM") and nothing of
// it touches a path; the refusal is a Security Alert in the audit stream
// (PS3.15 §A.5.3.11), since only a forged or corrupted message fails.
func (w *worker) refuse(m jetstream.Msg, err error) {
	subject, seq := m.Subject(), 0
	if md, e := m.Metadata(); e == nil {
		seq = int(md.Sequence.Stream)
	}
	w.log.Error().Err(err).Str("subject", subject).Int("stream_seq", seq).Int("bytes", len(m.Data())).Msg("invalid job message refused (terminated, not retried)")
	w.metric(func(mt *Metrics) { mt.Jobs.WithLabelValues("refused").Inc() })
	w.o.Audit.Event("job-refused", AuditSecurityAlert, AuditEventID{}, "E", OutcomeSerious).Str("worker", w.id).
		Str("subject", subject).Int("stream_seq", seq).Int("bytes", len(m.Data())).Str("description", err.Error()).Send()
	if e := m.TermWithReason("invalid job message"); e != nil {
		w.log.Warn().Err(e).Msg("terminating an invalid job message")
	}
}

func (w *worker) metric(f func(*Metrics)) {
	if w.o.Metrics != nil {
		f(w.o.Metrics)
	}
}

// inputs finds the job's files: in the local batch folder when this
// process shares the state folder with the node that received them, else
// from the object store.
func (w *worker) inputs(ctx context.Context, job Job, work string) ([]string, error) {
	local := filepath.Join(w.o.StateDir, "batches", job.Batch)
	var out []string
	missing := false
	for _, n := range job.Inputs {
		if strings.ContainsAny(n, "/\\") || strings.HasPrefix(n, ".") {
			return nil, Permanent(fmt.Errorf("input name %q is not a file name", n))
		}
		p := filepath.Join(local, n)
		if _, err := os.Stat(p); err != nil {
			missing = true
			break
		}
		out = append(out, p)
	}
	if !missing {
		return out, nil
	}
	if !w.q.Shared {
		return nil, Permanent(fmt.Errorf("inputs of batch %s are gone from %s", job.Batch, local))
	}
	dir := filepath.Join(work, "in")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	out = out[:0]
	for _, n := range job.Inputs {
		p := filepath.Join(dir, n)
		if err := w.q.obj.GetFile(ctx, job.Batch+"/"+n, p); err != nil {
			return nil, fmt.Errorf("fetching input %s of batch %s: %w", n, job.Batch, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (w *worker) run(ctx context.Context, job Job, inputs []string, work string) ([]string, error) {
	switch job.Kind {
	case "forward":
		return inputs, nil
	case "reconstruct":
		r := w.o.Runners[job.Reconstructor]
		if r == nil {
			return nil, Permanent(fmt.Errorf("reconstructor %q is not available on worker %s", job.Reconstructor, w.o.Name))
		}
		out := filepath.Join(work, "out")
		if err := os.MkdirAll(out, 0o750); err != nil {
			return nil, err
		}
		return r.Run(ctx, job, inputs, out)
	}
	return nil, Permanent(fmt.Errorf("unknown job kind %q", job.Kind))
}

// quarantineReason is the machine-readable reason beside quarantined
// inputs.
type quarantineReason struct {
	Job      Job       `json:"job"`
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	Worker   string    `json:"worker"`
	At       time.Time `json:"at"`
}

// quarantine moves a job that failed for good out of the way: its inputs
// into STATE/quarantine/<job>/ with reason.json, its status to
// "quarantined", an audit event, and the message terminated.
func (w *worker) quarantine(ctx context.Context, m jetstream.Msg, job Job, inputs []string, reason string, attempt int, log zerolog.Logger) {
	dir := filepath.Join(w.o.StateDir, "quarantine", job.ID)
	err := mkdirDurable(dir)
	if err == nil && inputs == nil {
		inputs, _ = w.inputs(ctx, job, filepath.Join(w.o.StateDir, "work", job.ID))
	}
	for _, in := range inputs {
		if err == nil {
			err = linkOrCopy(in, filepath.Join(dir, filepath.Base(in)))
		}
	}
	if err == nil {
		err = writeJSONDurable(filepath.Join(dir, "reason.json"), quarantineReason{Job: job, Reason: reason, Attempts: attempt, Worker: w.id, At: time.Now().UTC()})
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot quarantine; the job will be delivered again")
		_ = m.NakWithDelay(w.o.RetryDelay)
		return
	}
	if err := w.q.setStatus(ctx, job.ID, JobStatus{State: "quarantined", Worker: w.id, At: time.Now().UTC(), Reason: reason}); err != nil {
		log.Error().Err(err).Msg("cannot record the quarantine; the job will be delivered again")
		_ = m.NakWithDelay(w.o.RetryDelay)
		return
	}
	log.Error().Str("reason", reason).Str("quarantine", dir).Msg("job failed for good; inputs quarantined")
	w.metric(func(mt *Metrics) { mt.Jobs.WithLabelValues("quarantined").Inc() })
	w.o.Audit.Event("job-failed", AuditInstancesAccessed, AuditEventID{}, "E", OutcomeSerious).Str("job", job.ID).
		Str("kind", job.Kind).Str("worker", w.id).Str("study_uid", job.StudyUID).Str("series_uid", job.SeriesUID).
		Int("attempt", attempt).Str("description", reason).Str("quarantine", dir).Send()
	_ = m.TermWithReason("quarantined")
}
