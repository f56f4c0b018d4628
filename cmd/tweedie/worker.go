package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/gateway/isolation"
	"github.com/tweedie-recon/tweedie/pipeline"
)

// cmdWorker runs job workers (and their outboxes) against the JetStream of
// nats.url, beside a `tweedie serve` elsewhere; series data arrive through
// the JetStream object store.
func cmdWorker(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	cfgPath := fs.String("config", "", "YAML configuration; nats.url must name the serve node's JetStream")
	state := fs.String("state", "", "state folder (overrides node.state_dir)")
	workers := fs.Int("workers", 0, "concurrent jobs (overrides jobs.workers)")
	// Set by serve for its supervised worker processes (jobs.isolation:
	// process); the token is read from a file, never given here.
	child := fs.Bool("child", false, "run as a worker process of serve (internal)")
	name := fs.String("name", "", "name in the audit stream (internal)")
	natsURL := fs.String("nats-url", "", "serve's queue (internal, with --child)")
	tokenFile := fs.String("nats-token-file", "", "file with serve's queue token (internal, with --child)")
	fs.Parse(args)
	if *child {
		return runChildWorker(*cfgPath, *state, *name, *natsURL, *tokenFile)
	}
	if fs.NArg() != 0 || *cfgPath == "" {
		fmt.Fprintln(os.Stderr, "usage: tweedie worker --config FILE [--state DIR] [--workers N]")
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie worker:", err)
		return 2
	}
	if cfg.NATS.URL == "" {
		fmt.Fprintf(os.Stderr, "tweedie worker: %s: nats.url must name the JetStream of the serve node (nats://host:port)\n", *cfgPath)
		return 2
	}
	if *state != "" {
		cfg.Node.StateDir = *state
	}
	if *workers > 0 {
		cfg.Jobs.Workers = *workers
	}
	if cfg.Jobs.Workers < 1 {
		cfg.Jobs.Workers = 1
	}
	shareONNXThreads(cfg)
	log := newLogger(cfg.Log, os.Stderr)
	return runNode(cfg, log, gateway.Options{Config: cfg, Log: log, Runners: withExtra(pipeline.Runners(scoreRuntime(cfg))), Worker: true})
}

// runChildWorker is a worker process of serve: serve's configuration and
// state folder, one job at a time, its queue over loopback, job starts
// and ends reported on descriptor 3, outputs put into serve's outboxes
// (serve sends them). A segfault in cgo code kills it with the signal
// (traceback "crash") so that serve can name the signal.
func runChildWorker(cfgPath, state, name, natsURL, tokenFile string) int {
	debug.SetTraceback("crash")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie worker:", err)
		return 2
	}
	if state != "" {
		cfg.Node.StateDir = state
	}
	if natsURL == "" {
		fmt.Fprintln(os.Stderr, "tweedie worker: --child needs --nats-url")
		return 2
	}
	if cfg.NATS.Listen != "" && cfg.NATS.TLS.Cert != "" {
		// serve's TLS listener: trust exactly its certificate.
		cfg.NATS.PinnedServerCert = cfg.NATS.TLS.Cert
	}
	cfg.NATS.URL, cfg.NATS.Listen = natsURL, ""
	if tokenFile != "" {
		cfg.NATS.User, cfg.NATS.PasswordFile, cfg.NATS.NKeySeedFile, cfg.NATS.Credentials = "", "", "", ""
		cfg.NATS.TokenFile = tokenFile
	}
	shareONNXThreads(cfg) // serve's jobs.workers children share the CPUs
	cfg.Jobs.Workers = 1
	cfg.HTTP.Listen = ""
	log := newLogger(cfg.Log, os.Stderr).With().Str("process", name).Logger()
	return runNode(cfg, log, gateway.Options{Config: cfg, Log: log, Runners: withExtra(pipeline.Runners(scoreRuntime(cfg))),
		Worker: true, Child: true, Name: name, OnJob: isolation.ChildNotifier()})
}
