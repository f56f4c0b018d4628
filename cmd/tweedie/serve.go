package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"gopkg.in/yaml.v3"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/reconstruct"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
	"github.com/tweedie-recon/tweedie/systemd"
)

func newLogger(c conf.LogConfig, w io.Writer) zerolog.Logger {
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).With().Timestamp().Logger().Level(lvl)
}

// loadConfig reads the configuration (the embedded defaults when path is
// empty) and checks the routing rules against the destinations and
// reconstructors, reporting every problem at once.
// It also hands the onnx section to the diffusion reconstructors.
func loadConfig(path string) (*conf.Config, error) {
	var c *conf.Config
	if path == "" {
		c = conf.Default()
		if errs := gateway.ConfigCheck(runners())(c); len(errs) > 0 {
			return nil, fmt.Errorf("defaults: %s", strings.Join(errs, "\n"))
		}
	} else {
		var err error
		if c, err = conf.LoadChecked(path, gateway.ConfigCheck(runners())); err != nil {
			return nil, err
		}
	}
	if c.Routing.Kind == 0 {
		if err := defaultRouting(c); err != nil {
			return nil, err
		}
	}
	o := c.ONNX
	reconstruct.SetScoreRuntime(onnx.Config{Library: o.Library, Device: o.Device, IntraOpThreads: o.IntraOpThreads, Models: o.Models})
	return c, nil
}

// defaultRouting installs the embedded routing when the configuration has
// none: MR k-space goes to dds, CT sinograms to dds (mbir when the
// acquisition has several slices), each delivered to every destination (the
// folder destination, or the configured PACS); any other series is
// discarded with an audit event — a reconstruction node does not send a
// PACS back its own images unless a rule says so.
func defaultRouting(c *conf.Config) error {
	var names []string
	for _, d := range c.EffectiveDestinations() {
		names = append(names, d.Name)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(embeddedRouting, strings.Join(names, ", "))), &doc); err != nil {
		return err
	}
	c.Routing = *doc.Content[0]
	return nil
}

// embeddedRouting is the default routing; %[1]s is the destination list.
const embeddedRouting = `
rules:
  - name: mr-kspace
    description: undersampled MR k-space (docs/raw-data.md) to the diffusion prior
    match:
      all:
        - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
        - "(0077,1001)": {equals: MR_KSPACE}
    actions: [{reconstruct: {reconstructor: dds, destinations: [%[1]s]}}]
    stop: true
  - name: ct-sinogram-volume
    description: sparse-view CT volumes to DiffusionMBIR (2D prior, TV along z)
    match:
      all:
        - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
        - "(0077,1001)": {equals: CT_SINOGRAM}
        - "(0077,1014)": {gt: 1}
    actions: [{reconstruct: {reconstructor: mbir, destinations: [%[1]s]}}]
    stop: true
  - name: ct-sinogram
    description: sparse-view CT slices to the diffusion prior
    match:
      all:
        - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
        - "(0077,1001)": {equals: CT_SINOGRAM}
    actions: [{reconstruct: {reconstructor: dds, destinations: [%[1]s]}}]
    stop: true
fallback:
  - discard: {reason: not tweedie raw data}
`

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
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if t.VerifyClient {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
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
	return runNode(cfg, log, gateway.Options{Config: cfg, Log: log, Runners: runners(), TLS: tlsCfg})
}

// runners are the reconstructors this binary offers; the reconstruct
// package's registry joins here when it exists.

// runNode starts a node, tells systemd it is ready (sd_notify), feeds the
// watchdog, and on SIGTERM or SIGINT stops it gracefully: no new
// associations, those in flight finish (30 s), jobs in progress go back
// to the queue, and all state stays on disk.
func runNode(cfg *conf.Config, log zerolog.Logger, o gateway.Options) int {
	n, err := gateway.New(o)
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
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
	if _, err := conf.LoadChecked(args[1], gateway.ConfigCheck(runners())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: ok\n", args[1])
	return 0
}
