// Package isolation is crash isolation (jobs.isolation: process).
// Reconstructions run cgo code (ONNX Runtime) that can segfault or run out
// of memory; in the process that answers C-STORE that would take the DICOM
// listener down and abort transfers in flight. So serve runs its workers
// as child processes — `tweedie worker --child`, one job at a time each —
// on the same state folder, connected to serve's embedded JetStream over
// loopback with a token made at start. A child tells serve on file
// descriptor 3 which job it runs (ChildNotifier); when it dies during a
// job, serve quarantines that job at once (after one crash: the next
// worker would die of it too; gateway.Node.QuarantineCrashed) with the
// signal and the child's last log lines, and restarts the child with
// backoff. A job running longer than jobs.timeout is ended by its context
// in the child, and, if the child does not come back within a grace
// period, by killing it.
//
// The package runs the children; the command line that starts one is the
// caller's (Supervisor.Args).
package isolation

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/gateway"
)

const (
	childLogLines  = 12
	childBackoff0  = time.Second
	childBackoffMx = time.Minute
	timeoutGrace   = 30 * time.Second
)

// jobEvent is a line on a child's descriptor 3.
type jobEvent struct {
	Event string       `json:"event"` // "start" or "end"
	Job   *gateway.Job `json:"job,omitempty"`
	ID    string       `json:"id,omitempty"`
}

// ChildNotifier is the child's side (gateway.Options.OnJob): it writes a
// jobEvent per job start and end to descriptor 3.
func ChildNotifier() func(job gateway.Job, running bool) {
	f := os.NewFile(3, "tweedie-supervisor")
	var mu sync.Mutex
	return func(job gateway.Job, running bool) {
		e := jobEvent{Event: "end", ID: job.ID}
		if running {
			e = jobEvent{Event: "start", Job: &job}
		}
		b, _ := json.Marshal(e)
		mu.Lock()
		f.Write(append(b, '\n'))
		mu.Unlock()
	}
}

// Child is what a worker process is started with.
type Child struct {
	Name       string // in the log and the audit stream: worker-0, …
	ConfigPath string // serve's configuration file ("" for the embedded defaults)
	State      string // serve's state folder
	NATSURL    string // serve's queue
	TokenFile  string // the queue token serve made, or ""
}

// Supervisor runs and restarts serve's worker processes.
type Supervisor struct {
	// Args are the arguments (after the executable, which is this
	// program's) that start child as a worker process of one job at a
	// time, reporting its jobs with ChildNotifier.
	Args func(child Child) []string

	exe     string
	cfgPath string
	state   string
	n       int
	timeout time.Duration
	token   string // file
	log     zerolog.Logger
	out     io.Writer // where children's log lines go (serve's stderr)

	node *gateway.Node
	url  string
	wg   sync.WaitGroup
	stop context.CancelFunc

	mu    sync.Mutex
	procs map[string]*os.Process // the running children, by name
}

// Hangup passes SIGHUP on to the running children (they reopen the
// audit log too).
func (s *Supervisor) Hangup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		_ = p.Signal(syscall.SIGHUP)
	}
}

// Prepare turns a configuration with jobs.isolation: process into serve's
// own (no in-process workers; the embedded server listening on loopback
// with a token, unless nats.url or nats.listen is set) and the supervisor
// that will run the children, or nil when jobs.workers is 0. The
// children's log lines go to serve's standard error.
func Prepare(cfg *conf.Config, cfgPath string, log zerolog.Logger, args func(Child) []string) (*Supervisor, error) {
	if cfg.Jobs.Workers == 0 {
		return nil, nil // only remote `tweedie worker`s take the jobs
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("jobs.isolation process: %w", err)
	}
	s := &Supervisor{Args: args, exe: exe, cfgPath: cfgPath, state: cfg.Node.StateDir, n: cfg.Jobs.Workers,
		timeout: time.Duration(cfg.Jobs.Timeout), log: log, out: os.Stderr}
	cfg.Jobs.Workers = 0
	if cfg.NATS.URL == "" && cfg.NATS.Listen == "" {
		if cfg.NATS.Auth() != "" {
			return nil, fmt.Errorf("jobs.isolation process: nats credentials without nats.listen or nats.url; leave them out (serve makes a token for its children)")
		}
		dir := filepath.Join(cfg.Node.StateDir, "run")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s.token = filepath.Join(dir, "queue-token")
		if err := os.WriteFile(s.token+".tmp", []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(s.token+".tmp", s.token); err != nil {
			return nil, err
		}
		cfg.NATS.Listen, cfg.NATS.TokenFile = "127.0.0.1:0", s.token
	}
	// With a TLS nats.listen the children pin serve's own certificate
	// (the worker's --child set-up): they reach it by the listen address,
	// which its names need not cover, and its CA need not be the system's.
	return s, nil
}

// Start runs the children against the node's queue.
func (s *Supervisor) Start(n *gateway.Node, cfg *conf.Config) {
	s.node = n
	s.url = n.NATSURL()
	if s.url == "" {
		s.url = cfg.NATS.URL
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	for i := 0; i < s.n; i++ {
		s.wg.Add(1)
		go func(i int) { defer s.wg.Done(); s.keep(ctx, i) }(i)
	}
}

// Shutdown sends the children SIGTERM (a job in progress goes back to the
// queue) and waits for them.
func (s *Supervisor) Shutdown() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
}

// keep runs child i until ctx ends, restarting it with backoff (1 s,
// doubling to a minute; back to 1 s after a minute up).
func (s *Supervisor) keep(ctx context.Context, i int) {
	name := fmt.Sprintf("worker-%d", i)
	backoff := childBackoff0
	for ctx.Err() == nil {
		t0 := time.Now()
		reason, err := s.runChild(ctx, name)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Error().Err(err).Str("worker", name).Msg("cannot start a worker process")
		} else {
			s.log.Error().Str("worker", name).Str("exit", reason).Dur("up", time.Since(t0).Round(time.Millisecond)).Dur("restart_in", backoff).Msg("worker process ended; restarting")
		}
		if time.Since(t0) > time.Minute {
			backoff = childBackoff0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, childBackoffMx)
	}
}

// runChild runs one child process to its end and deals with a job it
// died in; it returns how the process ended.
func (s *Supervisor) runChild(ctx context.Context, name string) (string, error) {
	args := s.Args(Child{Name: name, ConfigPath: s.cfgPath, State: s.state, NATSURL: s.url, TokenFile: s.token})
	cmd := exec.CommandContext(ctx, s.exe, args...)
	// Not systemd's: only serve talks to the service manager.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") && !strings.HasPrefix(e, "WATCHDOG_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 40 * time.Second // past the child's own 30 s drain
	// The child dies with serve, even when serve is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	events, evw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.ExtraFiles = []*os.File{evw}
	logs, logw, err := os.Pipe()
	if err != nil {
		events.Close()
		evw.Close()
		return "", err
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		events.Close()
		evw.Close()
		logs.Close()
		logw.Close()
		return "", err
	}
	evw.Close()
	logw.Close()
	s.mu.Lock()
	if s.procs == nil {
		s.procs = map[string]*os.Process{}
	}
	s.procs[name] = cmd.Process
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.procs, name); s.mu.Unlock() }()
	s.log.Info().Str("worker", name).Int("pid", cmd.Process.Pid).Msg("worker process started")

	var mu sync.Mutex
	var current *gateway.Job
	var since time.Time
	var last []string
	killed := ""
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { // the child's log: to serve's stderr, the last lines kept
		defer readers.Done()
		sc := bufio.NewScanner(logs)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			mu.Lock()
			if len(line) > 400 {
				line = line[:400] + "…"
			}
			last = append(last, line)
			if len(last) > childLogLines {
				last = last[1:]
			}
			mu.Unlock()
		}
		logs.Close()
	}()
	go func() { // job events
		defer readers.Done()
		sc := bufio.NewScanner(events)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			var e jobEvent
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			mu.Lock()
			switch {
			case e.Event == "start" && e.Job != nil:
				current, since = e.Job, time.Now()
			case e.Event == "end" && current != nil && current.ID == e.ID:
				current = nil
			}
			mu.Unlock()
		}
		events.Close()
	}()
	done := make(chan struct{})
	if s.timeout > 0 {
		go func() { // the per-job limit, for a run that ignores its context
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					mu.Lock()
					over := current != nil && time.Since(since) > s.timeout+timeoutGrace
					if over && killed == "" {
						killed = fmt.Sprintf("ran longer than jobs.timeout (%s) and did not stop within %s; its worker process was killed", s.timeout, timeoutGrace)
						_ = cmd.Process.Kill()
					}
					mu.Unlock()
				}
			}
		}()
	}
	err = cmd.Wait()
	close(done)
	readers.Wait()
	how := exitDescription(cmd.ProcessState, err)
	mu.Lock()
	job, tail, why := current, strings.Join(last, "\n"), killed
	mu.Unlock()
	if job != nil && ctx.Err() == nil {
		reason := why
		if reason == "" {
			reason = "the job killed its worker process (" + how + ")"
		}
		reason += "; last log lines of the worker:\n" + tail
		if err := s.node.QuarantineCrashed(*job, name, reason); err != nil {
			s.log.Error().Err(err).Str("job", job.ID).Msg("cannot quarantine the job that killed its worker; it will be delivered again")
		}
	}
	return how, nil
}

// exitDescription says how a process ended: "killed by signal SIGSEGV
// (segmentation fault)", "exit status 2".
func exitDescription(ps *os.ProcessState, err error) string {
	if ps == nil {
		if err != nil {
			return err.Error()
		}
		return "unknown"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		d := fmt.Sprintf("killed by signal %s (%s)", signalName(sig), sig.String())
		if ws.CoreDump() {
			d += ", core dumped"
		}
		return d
	}
	return fmt.Sprintf("exit status %d", ps.ExitCode())
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGBUS:
		return "SIGBUS"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGILL:
		return "SIGILL"
	case syscall.SIGFPE:
		return "SIGFPE"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return fmt.Sprintf("signal %d", int(s))
}
