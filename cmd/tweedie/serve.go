package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/dimse"
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

func loadConfig(path string) (*conf.Config, error) {
	if path == "" {
		return conf.Default(), nil
	}
	return conf.Load(path)
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
	n := cfg.Node
	received := filepath.Join(n.StateDir, "received")
	if err := os.MkdirAll(received, 0o750); err != nil {
		log.Error().Err(err).Msg("cannot create the state folder")
		return 1
	}
	tlsCfg, err := serverTLS(n.TLS)
	if err != nil {
		log.Error().Err(err).Msg("TLS configuration")
		return 2
	}
	srv := dimse.NewServer(dimse.ServerConfig{
		Policy: dimse.Policy{AETitle: n.AETitle, RequireCalledAE: n.RequireCalledAE, AllowedCallingAE: n.AllowedCallingAEs,
			AllowedNetworks: n.Networks(), AcceptAnyStorage: n.AcceptAnyStorage, TransferSyntaxes: n.TransferSyntaxes,
			AcceptEncapsulated: n.AcceptCompressed, MaxPDU: n.MaxPDU},
		MaxAssociations: n.MaxAssociations, ARTIM: time.Duration(n.Timeouts.ARTIM), IdleTimeout: time.Duration(n.Timeouts.Idle),
		DIMSETimeout: time.Duration(n.Timeouts.DIMSE), TLS: tlsCfg, Log: log,
		Store: &dimse.FileStore{Dir: received, Fsync: n.Fsync},
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(n.Listen) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// Wait until the listener is up to announce it, or fail early.
	for srv.Addr() == nil {
		select {
		case err := <-errc:
			log.Error().Err(err).Str("listen", n.Listen).Msg("cannot listen")
			return 1
		case <-time.After(10 * time.Millisecond):
		}
	}
	log.Info().Str("ae_title", n.AETitle).Str("listen", srv.Addr().String()).Str("state", n.StateDir).Bool("tls", tlsCfg != nil).Msg("tweedie serving")
	select {
	case err := <-errc:
		log.Error().Err(err).Msg("server stopped")
		return 1
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("shutting down: finishing associations in flight")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn().Err(err).Msg("shutdown")
	}
	log.Info().Msg("stopped")
	return 0
}

func cmdConfig(args []string) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, "usage: tweedie config check FILE")
		return 2
	}
	if _, err := conf.Load(args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: ok\n", args[1])
	return 0
}
