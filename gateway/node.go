// Package gateway is tweedie's DICOM node: it receives series by C-STORE
// into a durable spool, decides with the routing rules what each completed
// series is, runs jobs from a NATS JetStream work queue, and sends results
// to destinations from durable outboxes, with an audit stream modelled on
// PS3.15 beside the operational log.
//
// The pipeline, each stage handing durable state to the next:
//
//	C-STORE → Spool (STATE/spool) → Batch (STATE/batches) → rules → Queue (JetStream)
//	  → worker (Runner) → Outbox (STATE/outbox/<dest>) → destination
//
// A crash at any point leaves each stage's input on disk to be taken up
// again at start; output UIDs are derived from the input and the job, so
// work done twice sends the same instances again, never second copies.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rules"
)

// Options configure a Node.
type Options struct {
	Config *conf.Config
	Log    zerolog.Logger
	// Runners are the reconstructors by name; "identity" is built in.
	Runners map[string]Runner
	// TLS is the DICOM listener's TLS configuration (nil: none).
	TLS *tls.Config
	// Worker makes a worker-only node: no DICOM listener and no spool,
	// only workers and outboxes against nats.url.
	Worker bool
	// Name identifies this process in the audit stream (default: host name).
	Name string
	// Child makes a worker that serve supervises (jobs.isolation:
	// process): it shares serve's state folder and puts its outputs into
	// the outboxes there, which serve sends.
	Child bool
	// OnJob is told when a worker starts (running) and ends a job.
	OnJob func(job Job, running bool)
}

// Node is a running gateway (serve) or worker process.
type Node struct {
	o       Options
	cfg     *conf.Config
	log     zerolog.Logger
	state   string
	audit   *Audit
	metrics *Metrics
	rules   *rules.Set
	spool   *Spool
	queue   *Queue
	outbox  map[string]*Outbox
	srv     *dimse.Server
	ln      net.Listener
	httpSrv *http.Server
	httpLn  net.Listener
	// The MRD listener (mrd.go): its sessions' slots, and the sessions
	// waiting for their series' jobs (by series UID, by job ID; under mu).
	mrdLn     net.Listener
	mrdSlots  chan struct{}
	mrdSeries map[string]*mrdWait
	mrdJobs   map[string]*mrdWait

	ctx     context.Context
	cancel  context.CancelFunc
	workers *sync.WaitGroup
	bg      sync.WaitGroup

	stopOnce sync.Once
	stopErr  error

	mu          sync.Mutex
	batchJobs   map[string][]string // batch → job IDs, for clean-up
	doneJobs    map[string]bool
	batchInputs map[string][]string
}

// Runners returns the built-in runners plus extra.
func Runners(extra map[string]Runner) map[string]Runner {
	out := map[string]Runner{"identity": Identity}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// RoutingRules parses the configuration's routing section. conf fills in
// the embedded routing (conf/defaults.yaml) when a file has none, so serve,
// worker, config check and rules test all run the same one; the gateway has
// no default of its own.
func RoutingRules(c *conf.Config) (*rules.Set, error) {
	if c.Routing.Kind == 0 {
		return nil, errors.New("the configuration has no routing section (conf.Load and conf.Default fill in the embedded one)")
	}
	return rules.Parse(&c.Routing)
}

// ParamChecker is a Runner that checks a rule's parameters before any job
// runs, so that a misspelt parameter is a configuration error with its
// line rather than a failed job (pipeline.Runner checks with the
// reconstructor's own parsing).
type ParamChecker interface {
	CheckParams(params map[string]string) []rules.ParamProblem
}

// ConfigCheck is the conf.Check of the gateway: the routing rules parse,
// name only configured destinations and available reconstructors, and give
// those reconstructors parameters they take (where the runner is a
// ParamChecker). Each problem is at its place in the file.
func ConfigCheck(runners map[string]Runner) conf.Check {
	return func(c *conf.Config) []conf.Problem {
		set, err := RoutingRules(c)
		if err != nil {
			return routingProblems(err)
		}
		dests := map[string]bool{}
		for _, d := range c.EffectiveDestinations() {
			dests[d.Name] = true
		}
		if err := set.CheckNames(func(n string) bool { return dests[n] }, func(n string) bool { return runners[n] != nil }); err != nil {
			return routingProblems(err)
		}
		err = set.CheckParams(func(name string, params map[string]string) []rules.ParamProblem {
			if pc, ok := runners[name].(ParamChecker); ok {
				return pc.CheckParams(params)
			}
			return nil
		})
		if err != nil {
			return routingProblems(err)
		}
		return nil
	}
}

// routingProblems turns the rules' problems into the configuration's.
func routingProblems(err error) []conf.Problem {
	var pe *rules.ParseError
	if !errors.As(err, &pe) {
		return []conf.Problem{{Path: "routing", Msg: err.Error()}}
	}
	out := make([]conf.Problem, len(pe.Problems))
	for i, p := range pe.Problems {
		out[i] = conf.Problem{Line: p.Line, Col: p.Column, Path: "routing", Msg: p.Msg}
	}
	return out
}

// New prepares a node: state folders, audit stream, rules, outboxes.
// Nothing listens until Start.
func New(o Options) (*Node, error) {
	c := o.Config
	if o.Runners == nil {
		o.Runners = Runners(nil)
	}
	if o.Name == "" {
		o.Name, _ = os.Hostname()
	}
	n := &Node{o: o, cfg: c, log: o.Log, state: c.Node.StateDir, metrics: NewMetrics(), outbox: map[string]*Outbox{},
		batchJobs: map[string][]string{}, doneJobs: map[string]bool{}, batchInputs: map[string][]string{},
		mrdSeries: map[string]*mrdWait{}, mrdJobs: map[string]*mrdWait{}}
	if err := mkdirDurable(n.state); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	ap := c.Audit.Path
	if ap == "" {
		ap = filepath.Join(n.state, "audit.log")
	}
	var err error
	if n.audit, err = OpenAudit(ap, c.Audit.IncludePatient); err != nil {
		return nil, fmt.Errorf("audit.path: %w", err)
	}
	if n.rules, err = RoutingRules(c); err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	for _, d := range c.EffectiveDestinations() {
		ob, err := NewOutbox(n.state, d, DispatchOptions{MaxAttempts: c.Dispatch.MaxAttempts, BackoffInitial: time.Duration(c.Dispatch.BackoffInitial),
			BackoffMax: time.Duration(c.Dispatch.BackoffMax), Batch: c.Dispatch.Batch, Audit: n.audit, Metrics: n.metrics, Log: o.Log})
		if err != nil {
			return nil, err
		}
		n.outbox[d.Name] = ob
	}
	return n, nil
}

// Audit returns the audit stream.
func (n *Node) Audit() *Audit { return n.audit }

// Metrics returns the metrics.
func (n *Node) Metrics() *Metrics { return n.metrics }

// Start opens the queue, starts the workers, outboxes, spool and, unless a
// worker, the DICOM listener; it returns once the node serves.
func (n *Node) Start(ctx context.Context) error {
	c := n.cfg
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.audit.Event("application-start", AuditApplicationActivity, TypeApplicationStart, "E", OutcomeSuccess).
		Str("application", "tweedie").Str("process", n.o.Name).Str("role", map[bool]string{true: "worker", false: "serve"}[n.o.Worker]).Send()
	n.audit.Event("configuration-loaded", AuditSecurityAlert, TypeSoftwareConfiguration, "E", OutcomeSuccess).
		Str("process", n.o.Name).Str("ae_title", c.Node.AETitle).Strs("destinations", n.rules.Destinations()).
		Strs("reconstructors", n.rules.Reconstructors()).Int("rules", len(n.rules.Rules())).Send()
	var err error
	if n.queue, err = OpenQueue(ctx, n.state, c.NATS, c.Jobs, n.log); err != nil {
		return err
	}
	for _, ob := range n.outbox {
		if n.o.Child {
			break // serve sends what its children put
		}
		n.bg.Add(1)
		go func(ob *Outbox) { defer n.bg.Done(); ob.Run(n.ctx) }(ob)
	}
	n.workers = n.queue.RunWorkers(n.ctx, c.Jobs.Workers, WorkerOptions{Name: n.o.Name, StateDir: n.state, Runners: n.o.Runners,
		Outboxes: n.outbox, MaxAttempts: c.Jobs.MaxAttempts, AckWait: time.Duration(c.Jobs.AckWait), RetryDelay: time.Duration(c.Jobs.RetryDelay),
		Audit: n.audit, Metrics: n.metrics, Log: n.log, JobTimeout: time.Duration(c.Jobs.Timeout), OnJob: n.o.OnJob})
	if err := n.startHTTP(); err != nil {
		n.log.Warn().Err(err).Str("listen", c.HTTP.Listen).Msg("metrics endpoint not available")
	}
	if n.o.Worker {
		return nil
	}
	if err := n.queue.WatchStatus(n.ctx, n.jobOutcome); err != nil {
		return fmt.Errorf("watching job outcomes: %w", err)
	}
	n.spool, err = NewSpool(SpoolOptions{StateDir: n.state, Fsync: c.Node.Fsync, MinFree: int64(c.Spool.MinFree),
		IgnoreDuplicates: c.Spool.Duplicates == "ignore", IgnoreLate: c.Series.AfterProcessed == "ignore",
		Timeout: time.Duration(c.Series.Timeout), Audit: n.audit, Metrics: n.metrics, Log: n.log, OnBatch: n.route})
	if err != nil {
		return err
	}
	// Batches left by an earlier run: route (publishing again is a no-op
	// within the dedup window) or wait for their jobs' outcomes.
	for _, b := range n.spool.Batches() {
		n.route(b)
	}
	n.bg.Add(2)
	go func() { defer n.bg.Done(); n.spool.Run(n.ctx) }()
	go func() { defer n.bg.Done(); n.sweepUnroutedEvery() }()

	nc := c.Node
	n.srv = dimse.NewServer(dimse.ServerConfig{
		Policy: dimse.Policy{AETitle: nc.AETitle, RequireCalledAE: nc.RequireCalledAE, AllowedCallingAE: nc.AllowedCallingAEs,
			AllowedNetworks: nc.Networks(), AcceptAnyStorage: nc.AcceptAnyStorage, TransferSyntaxes: nc.TransferSyntaxes,
			AcceptEncapsulated: nc.AcceptCompressed, MaxPDU: nc.MaxPDU},
		MaxAssociations: nc.MaxAssociations, ARTIM: time.Duration(nc.Timeouts.ARTIM), IdleTimeout: time.Duration(nc.Timeouts.Idle),
		DIMSETimeout: time.Duration(nc.Timeouts.DIMSE), TLS: n.o.TLS, Log: n.log, Store: n.spool, OnEvent: n.onEvent,
		WriteTimeout: time.Duration(nc.Timeouts.Write), MaxPending: nc.MaxPending, MaxPendingPerAddress: nc.MaxPendingPerAddress,
		Inflation: part10.InflationLimit{MaxBytes: int64(nc.Deflate.MaxInflated), MaxRatio: nc.Deflate.MaxRatio},
	})
	if n.ln, err = net.Listen("tcp", nc.Listen); err != nil {
		return fmt.Errorf("node.listen %s: %w", nc.Listen, err)
	}
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, dimse.ErrServerClosed) {
			n.log.Error().Err(err).Msg("DICOM listener stopped")
		}
	}()
	return n.startMRD()
}

// Addr is the DICOM listener's address.
func (n *Node) Addr() net.Addr {
	if n.ln == nil {
		return nil
	}
	return n.ln.Addr()
}

// HTTPAddr is the metrics listener's address (nil when none).
func (n *Node) HTTPAddr() net.Addr {
	if n.httpLn == nil {
		return nil
	}
	return n.httpLn.Addr()
}

// NATSURL is the embedded NATS server's client URL when it listens.
func (n *Node) NATSURL() string { return n.queue.ClientURL() }

// Healthy reports whether the node can take work: the queue connected,
// the DICOM listener up (serve), and readiness (health.go): JetStream
// enabled, the state folder writable, free space above the floor on the
// spool, queue store, outboxes and work folders, and the queue moving.
func (n *Node) Healthy() error {
	if n.queue == nil || !n.queue.Connected() {
		return errors.New("not connected to NATS JetStream")
	}
	if !n.o.Worker && n.Addr() == nil {
		return errors.New("DICOM listener not up")
	}
	return n.readiness()
}

func (n *Node) startHTTP() error {
	if n.cfg.HTTP.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	n.httpLn = ln
	n.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.httpSrv.Serve(ln) }()
	return nil
}

// onEvent turns the DICOM server's notifications into audit events.
func (n *Node) onEvent(e dimse.Event) {
	switch e.Kind {
	case dimse.EventAssociationAccepted:
		n.metrics.Associations.WithLabelValues("accepted").Inc()
		r := n.audit.Event("association-accepted", AuditUserAuthentication, TypeLogin, "E", OutcomeSuccess).Str("source_address", e.Remote)
		if a := e.Association; a != nil {
			r = r.Str("source_ae", a.CallingAE).Str("destination_ae", a.CalledAE).Str("tls_peer", a.TLSPeer)
		}
		r.Send()
	case dimse.EventAssociationRejected:
		// PS3.15 §A.5.3.11: a refused node is a Security Alert.
		n.metrics.Associations.WithLabelValues("rejected").Inc()
		r := n.audit.Event("association-rejected", AuditSecurityAlert, TypeNodeAuthentication, "E", OutcomeMinorFailure).
			Str("source_address", e.Remote).Str("description", e.Reason)
		if a := e.Association; a != nil {
			r = r.Str("source_ae", a.CallingAE).Str("destination_ae", a.CalledAE)
		}
		r.Send()
	case dimse.EventAssociationEnded:
		if e.Association != nil && n.spool != nil {
			n.spool.AssociationEnded(e.Association)
		}
	}
}

// batchRecord is jobs.json in a routed batch folder.
type batchRecord struct {
	Jobs []string `json:"jobs"`
}

// track remembers a batch's jobs; when all have an outcome the batch
// folder and its objects are removed.
func (n *Node) track(batch string, jobs, names []string) {
	n.mu.Lock()
	n.batchJobs[batch] = jobs
	n.batchInputs[batch] = names
	n.mu.Unlock()
	n.maybeClean(batch)
}

func (n *Node) jobOutcome(id string, s JobStatus) {
	if s.State == "done" && s.Outputs > 0 {
		// A worker in another process (serve's child, or a worker on this
		// state folder) put its outputs into the outboxes: send them now
		// rather than at the next idle poll, up to ten backoff steps away.
		for _, ob := range n.outbox {
			ob.Poke()
		}
	}
	n.mrdOutcome(id, s)
	i := strings.LastIndex(id, "-a")
	if i < 0 {
		return
	}
	n.mu.Lock()
	n.doneJobs[id] = true
	n.mu.Unlock()
	n.maybeClean(id[:i])
}

func (n *Node) maybeClean(batch string) {
	n.mu.Lock()
	jobs, ok := n.batchJobs[batch]
	if !ok {
		n.mu.Unlock()
		return
	}
	for _, j := range jobs {
		if !n.doneJobs[j] {
			n.mu.Unlock()
			return
		}
	}
	names := n.batchInputs[batch]
	delete(n.batchJobs, batch)
	delete(n.batchInputs, batch)
	for _, j := range jobs {
		delete(n.doneJobs, j)
	}
	n.mu.Unlock()
	if n.queue.Shared {
		ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
		n.queue.DeleteInputs(ctx, batch, names)
		cancel()
	}
	if err := os.RemoveAll(n.spool.BatchDir(batch)); err != nil {
		n.log.Error().Err(err).Str("batch", batch).Msg("removing a finished batch")
	}
}

// Shutdown stops accepting associations, lets those in flight finish
// until ctx ends, stops the spool, the workers (a job in progress goes
// back to the queue) and the outboxes, and closes the queue. Everything
// left is on disk for the next start.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	var err error
	if n.srv != nil {
		err = n.srv.Shutdown(ctx)
	}
	if n.httpSrv != nil {
		_ = n.httpSrv.Close()
	}
	if n.mrdLn != nil {
		_ = n.mrdLn.Close()
	}
	if n.cancel != nil {
		n.cancel()
	}
	if n.workers != nil {
		n.workers.Wait()
	}
	n.bg.Wait()
	if n.queue != nil {
		n.queue.Close()
	}
	n.audit.Event("application-stop", AuditApplicationActivity, TypeApplicationStop, "E", OutcomeSuccess).
		Str("application", "tweedie").Str("process", n.o.Name).Send()
	_ = n.audit.Close()
	return err
}
