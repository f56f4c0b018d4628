package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
)

// Security of the job queue. Whoever can connect to the NATS client port
// can read every queued job and every instance in the inputs object store
// (PHI), forge job outcomes, or purge the stream; so the embedded server's
// listener, when it reaches beyond loopback, requires authentication
// (user and password, a token, or an NKey: NATS "Authentication") and
// TLS (RFC 8446), and the clients (serve's own in-process connection,
// tweedie worker, nats.url) present the same credentials. Secrets come
// from files only.

// ErrQueueExposed is returned when nats.listen reaches beyond loopback
// without authentication or TLS.
var ErrQueueExposed = errors.New("the job queue would listen beyond loopback without authentication and TLS")

// readSecret reads a secret from a file: trimmed, not empty, and the file
// not readable by every user of the host.
func readSecret(path, key string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("%s: %s is readable by every user (mode %v); chmod o-rwx it", key, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return s, nil
}

// serverSecurity sets the embedded server's authentication and TLS from
// the configuration, and refuses a listener beyond loopback without both.
func serverSecurity(c conf.NATSConfig, so *server.Options) error {
	if c.Listen != "" && !conf.LoopbackOnly(c.Listen) {
		switch {
		case c.Auth() == "" || c.Auth() == "credentials":
			return fmt.Errorf("%w: nats.listen %s needs user and password_file, token_file or nkey_seed_file", ErrQueueExposed, c.Listen)
		case c.TLS.Cert == "":
			return fmt.Errorf("%w: nats.listen %s needs nats.tls.cert and key", ErrQueueExposed, c.Listen)
		}
	}
	switch c.Auth() {
	case "user":
		pw, err := readSecret(c.PasswordFile, "nats.password_file")
		if err != nil {
			return err
		}
		so.Username, so.Password = c.User, pw
	case "token":
		tok, err := readSecret(c.TokenFile, "nats.token_file")
		if err != nil {
			return err
		}
		so.Authorization = tok
	case "nkey":
		seed, err := readSecret(c.NKeySeedFile, "nats.nkey_seed_file")
		if err != nil {
			return err
		}
		kp, err := nkeys.FromSeed([]byte(seed))
		if err != nil {
			return fmt.Errorf("nats.nkey_seed_file: %s is not an NKey seed: %w", c.NKeySeedFile, err)
		}
		pub, err := kp.PublicKey()
		kp.Wipe()
		if err != nil || !nkeys.IsValidPublicUserKey(pub) {
			return fmt.Errorf("nats.nkey_seed_file: %s is not a user NKey seed (SU…)", c.NKeySeedFile)
		}
		so.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	}
	if so.Username != "" || so.Authorization != "" || len(so.Nkeys) > 0 {
		so.AuthTimeout = 2
	}
	if c.TLS.Cert != "" && c.Listen != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return fmt.Errorf("nats.tls: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if c.TLS.CA != "" {
			pool, err := certPool(c.TLS.CA)
			if err != nil {
				return err
			}
			tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
			so.TLSVerify = true
		}
		so.TLS, so.TLSConfig, so.TLSTimeout = true, tc, 2
	}
	return nil
}

// clientOptions are the credentials (and, for a connection over the
// network, the TLS settings) a client of the queue presents. The
// in-process connection of serve needs no TLS: it never leaves the
// process.
func clientOptions(c conf.NATSConfig, inProcess bool) ([]nats.Option, error) {
	var opts []nats.Option
	switch c.Auth() {
	case "user":
		pw, err := readSecret(c.PasswordFile, "nats.password_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(c.User, pw))
	case "token":
		tok, err := readSecret(c.TokenFile, "nats.token_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	case "nkey":
		if _, err := readSecret(c.NKeySeedFile, "nats.nkey_seed_file"); err != nil {
			return nil, err
		}
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	case "credentials":
		if _, err := readSecret(c.Credentials, "nats.credentials"); err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if inProcess {
		return opts, nil
	}
	if c.PinnedServerCert != "" {
		tc, err := pinnedTLS(c)
		if err != nil {
			return nil, err
		}
		return append(opts, nats.Secure(tc)), nil
	}
	if c.TLS.CA != "" {
		pool, err := certPool(c.TLS.CA)
		if err != nil {
			return nil, err
		}
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if c.TLS.Cert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
			if err != nil {
				return nil, fmt.Errorf("nats.tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(tc))
	} else if c.TLS.Cert != "" {
		opts = append(opts, nats.ClientCert(c.TLS.Cert, c.TLS.Key))
	}
	return opts, nil
}

// pinnedTLS is the TLS of serve's worker processes towards serve's own
// listener: the server must present exactly the certificate in
// c.PinnedServerCert (serve's nats.tls.cert; its issuer and names do not
// matter, the children reach it on loopback or the listen address); with
// nats.tls.ca (mutual TLS) they present serve's certificate and key, which
// must then be issued by that CA for client authentication.
func pinnedTLS(c conf.NATSConfig) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(c.PinnedServerCert, c.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("nats.tls: %w", err)
	}
	want := pair.Certificate[0]
	tc := &tls.Config{MinVersion: tls.VersionTLS12,
		// Verification is the pin below: exactly serve's certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("the queue presented a certificate other than serve's own nats.tls.cert")
			}
			return nil
		}}
	if c.TLS.CA != "" {
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func certPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats.tls.ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("nats.tls.ca: no PEM certificate in %s", path)
	}
	return pool, nil
}

// natsLogger passes the embedded server's warnings and errors (refused
// clients among them: "authentication error", TLS handshake failures) to
// the node's log.
type natsLogger struct{ log zerolog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {}
func (l natsLogger) Debugf(format string, v ...any)  {}
func (l natsLogger) Tracef(format string, v ...any)  {}
func (l natsLogger) Warnf(format string, v ...any) {
	l.log.Warn().Str("component", "nats").Msg(fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	l.log.Warn().Str("component", "nats").Msg(fmt.Sprintf(format, v...))
}
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error().Str("component", "nats").Msg(fmt.Sprintf(format, v...))
}
