package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"gopkg.in/yaml.v3"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/gateway/isolation"
	"github.com/tweedie-recon/tweedie/pipeline"
	"github.com/tweedie-recon/tweedie/reconstruct"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
	"github.com/tweedie-recon/tweedie/systemd"
)

// loadConfig reads the configuration (the embedded defaults when path is
// empty, the embedded routing among them when the file has no routing
// section) and checks the routing rules against the destinations and the
// reconstructors, reporting every problem at once.
func loadConfig(path string) (*conf.Config, error) {
	return conf.LoadChecked(path, gateway.ConfigCheck(withExtra(pipeline.Runners(nil))))
}

// onnxConfig is the configuration's onnx section.
func onnxConfig(c *conf.Config) onnx.Config {
	o := c.ONNX
	return onnx.Config{Library: o.Library, Device: o.Device, IntraOpThreads: o.IntraOpThreads, Models: o.Models}
}

// shareONNXThreads sets onnx.intra_op_threads, when neither the
// configuration nor TWEEDIE_ONNX_THREADS sets it, to the CPUs divided
// among jobs.workers (each worker, in process or a child process, runs its
// own network evaluations at the same time as the others).
func shareONNXThreads(c *conf.Config) {
	if c.ONNX.IntraOpThreads != 0 || os.Getenv(onnx.EnvThreads) != "" || c.Jobs.Workers < 2 {
		return
	}
	c.ONNX.IntraOpThreads = max(1, goruntime.GOMAXPROCS(0)/c.Jobs.Workers)
}

// scoreRuntime is the diffusion reconstructors' runtime for the
// configuration's onnx section, opened at the first diffusion job.
func scoreRuntime(c *conf.Config) *reconstruct.ScoreRuntime {
	return reconstruct.NewScoreRuntime(onnxConfig(c))
}

func serverTLS(t conf.TLSConfig) (*tls.Config, error) {
	if t.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("node.tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("node.tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("node.tls.client_ca: %s has no PEM certificates", t.ClientCA)
		}
		// Naming client CAs means clients are to be authenticated: one
		// without a certificate is refused (VerifyClientCertIfGiven let
		// anonymous clients in), whatever verify_client says.
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func cmdServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	cfgPath := fs.String("config", "", "YAML configuration (default: embedded defaults)")
	listen := fs.String("listen", "", "HOST:PORT to listen on (overrides node.listen)")
	ae := fs.String("ae", "", "AE title (overrides node.ae_title)")
	state := fs.String("state", "", "state folder (overrides node.state_dir)")
	fs.Parse(args)
	if fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "tweedie serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie serve:", err)
		return 2
	}
	if *listen != "" {
		cfg.Node.Listen = *listen
	}
	if *ae != "" {
		cfg.Node.AETitle = *ae
	}
	if *state != "" {
		cfg.Node.StateDir = *state
	}
	log := newLogger(cfg.Log, os.Stderr)
	tlsCfg, err := serverTLS(cfg.Node.TLS)
	if err != nil {
		log.Error().Err(err).Msg("TLS configuration")
		return 2
	}
	shareONNXThreads(cfg)
	var sup *isolation.Supervisor
	if cfg.Jobs.Isolation == "process" {
		if sup, err = isolation.Prepare(cfg, *cfgPath, log, childArgs); err != nil {
			log.Error().Err(err).Msg("cannot start")
			return 2
		}
	}
	return runNode(cfg, log, gateway.Options{Config: cfg, Log: log, Runners: withExtra(pipeline.Runners(scoreRuntime(cfg))), TLS: tlsCfg},
		func(n *gateway.Node) {
			if sup != nil {
				sup.Start(n, cfg)
				stopBeforeShutdown = append(stopBeforeShutdown, sup.Shutdown)
				onHangup = append(onHangup, sup.Hangup)
			}
			gateway.PrintSummary(os.Stderr, log, cfg, *cfgPath, n, reconstruct.Summary(onnxConfig(cfg)))
		})
}

// withExtra adds the runners of extraRunners.
func withExtra(r map[string]gateway.Runner) map[string]gateway.Runner {
	for k, v := range extraRunners() {
		r[k] = v
	}
	return r
}

// onHangup runs on SIGHUP (serve passes it on to its worker processes).
var onHangup []func()

// stopBeforeShutdown runs before the node shuts down (serve's worker
// processes give their jobs back first).
var stopBeforeShutdown []func()

// runNode starts a node, tells systemd it is ready (sd_notify), feeds the
// watchdog, and on SIGTERM or SIGINT stops it gracefully: no new
// associations, those in flight finish (30 s), jobs in progress go back
// to the queue, and all state stays on disk. started runs once the node is
// up, before systemd hears it is ready (serve prints its summary there).
func runNode(cfg *conf.Config, log zerolog.Logger, o gateway.Options, started ...func(*gateway.Node)) int {
	n, err := gateway.New(o)
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// SIGHUP (logrotate's postrotate, systemctl reload): the audit log is
	// opened again at its path, by serve and by its worker processes.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := n.Start(context.Background()); err != nil {
		log.Error().Err(err).Msg("cannot start")
		shutdown(n, log)
		return 1
	}
	ev := log.Info().Str("state", cfg.Node.StateDir)
	if a := n.Addr(); a != nil {
		ev = ev.Str("ae_title", cfg.Node.AETitle).Str("listen", a.String()).Bool("tls", o.TLS != nil)
	}
	if u := n.NATSURL(); u != "" {
		ev = ev.Str("nats", u)
	}
	if a := n.HTTPAddr(); a != nil {
		ev = ev.Str("http", a.String())
	}
	role := "tweedie serving"
	if o.Worker {
		role = "tweedie worker running"
	}
	ev.Msg(role)
	for _, f := range started {
		f(n)
	}
	if _, err := systemd.Notify("READY=1\nSTATUS=" + role); err != nil {
		log.Warn().Err(err).Msg("sd_notify")
	}
	var watchdog <-chan time.Time
	if iv := systemd.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-hup:
			if err := n.Audit().Reopen(); err != nil {
				log.Error().Err(err).Msg("SIGHUP: cannot reopen the audit log")
			} else {
				log.Info().Msg("SIGHUP: audit log reopened")
			}
			for _, f := range onHangup {
				f()
			}
			continue
		case <-watchdog:
			// Only a node that can take work pets the watchdog.
			if err := n.Healthy(); err == nil {
				_, _ = systemd.Notify("WATCHDOG=1")
			} else {
				log.Warn().Err(err).Msg("unhealthy: watchdog not fed")
			}
			continue
		case s := <-sig:
			log.Info().Str("signal", s.String()).Msg("shutting down: finishing associations in flight")
		}
		break
	}
	_, _ = systemd.Notify("STOPPING=1")
	for _, f := range stopBeforeShutdown {
		f()
	}
	shutdown(n, log)
	log.Info().Msg("stopped")
	return 0
}

func shutdown(n *gateway.Node, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn().Err(err).Msg("shutdown")
	}
}

func cmdConfig(args []string) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, "usage: tweedie config check FILE")
		return 2
	}
	c, err := loadConfig(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: ok\n", args[1])
	// The routing serve would run: the file's, or the embedded one with the
	// file's destinations.
	b, err := yaml.Marshal(&c.Routing)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if c.RoutingDefault {
		fmt.Println("routing (embedded, conf/defaults.yaml):")
	} else {
		fmt.Println("routing:")
	}
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Println("  " + l)
	}
	// The MRD streaming listener (docs/mrd.md).
	if m := c.MRD; m.Listen == "" {
		fmt.Println("mrd: off (mrd.listen not set)")
	} else {
		nets, dests := m.Described()
		if len(m.Destinations) == 0 {
			dests += " (images go back on the connection only)"
		}
		fmt.Printf("mrd: listening on %s; clients from %s; derived series to %s; %d sessions at most, %s each, %s of acquisitions\n",
			m.Listen, nets, dests, m.MaxSessions, time.Duration(m.Timeout), m.MaxBytes)
	}
	return 0
}
