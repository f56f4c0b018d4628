package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tweedie-recon/tweedie/gateway"
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
	fs.Parse(args)
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
	log := newLogger(cfg.Log, os.Stderr)
	return runNode(cfg, log, gateway.Options{Config: cfg, Log: log, Runners: pipeline.Runners(scoreRuntime(cfg)), Worker: true})
}
