package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
)

// queuePKI writes a CA and a certificate for 127.0.0.1 signed by it into
// dir, PEM, and returns their paths.
func queuePKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tweedie test queue CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for p, b := range map[string][]byte{
		ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// The embedded queue on loopback with a password and TLS: clients without
// the password, with a wrong one, or without the CA are refused; a
// `tweedie worker` node (its own state folder, nats.url, the password from
// a file, the CA) takes the jobs of a series sent to serve and delivers
// them.
func TestQueueAuthAndTLS(t *testing.T) {
	secrets := t.TempDir()
	ca, cert, key := queuePKI(t, secrets)
	pw := filepath.Join(secrets, "password")
	if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sec := fmt.Sprintf("  user: tweedie\n  password_file: %s\n  tls:\n    cert: %s\n    key: %s\n", pw, cert, key)
	c := testConfig(t, "jobs:\n  workers: 0\n  ack_wait: 5s\n  retry_delay: 100ms\nnats:\n  listen: 127.0.0.1:0\n"+sec)
	n := startNode(t, c, nil)
	u := n.NATSURL()
	if u == "" {
		t.Fatal("no NATS listener")
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pem)
	withCA := nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	for _, tc := range []struct {
		name string
		opts []nats.Option
		want string
	}{
		{"no credentials", []nats.Option{withCA}, "authorization violation"},
		{"wrong password", []nats.Option{withCA, nats.UserInfo("tweedie", "wrong")}, "authorization violation"},
		{"token instead", []nats.Option{withCA, nats.Token("correct horse battery staple")}, "authorization violation"},
		{"no TLS trust", []nats.Option{nats.UserInfo("tweedie", "correct horse battery staple")}, "certificate"},
	} {
		nc, err := nats.Connect(u, append(tc.opts, nats.Timeout(10*time.Second), nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected to %s", tc.name, u)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The password is right: a client connects (the positive control of
	// the refusals above).
	nc, err := nats.Connect(u, withCA, nats.UserInfo("tweedie", "correct horse battery staple"), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("the right password is refused: %v", err)
	}
	nc.Close()

	// A worker node on its own state folder, as on a second host.
	wc := testConfig(t, fmt.Sprintf("jobs:\n  workers: 1\n  ack_wait: 5s\n  retry_delay: 100ms\nnats:\n  url: %s\n  user: tweedie\n  password_file: %s\n  tls:\n    ca: %s\n", u, pw, ca))
	wlog := &syncBuffer{}
	w, err := New(Options{Config: wc, Log: zerolog.New(wlog), Runners: Runners(nil), Worker: true, Name: "remote"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(wlog.String(), 4000))
		}
	})
	files := writeSeries(t, t.TempDir(), "2.25.81", "2.25.81.1", 2, 8)
	if out, err := storescu(t, n.port, files...); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "the remote worker's 2 deliveries", func() bool {
		return countFiles(filepath.Join(wc.Node.StateDir, "outgoing"), "*.dcm") == 2
	})
	waitFor(t, 30*time.Second, "the remote worker's job-finished event", func() bool {
		for _, e := range auditEvents(t, filepath.Join(wc.Node.StateDir, "audit.log"), "job-finished") {
			if strings.HasPrefix(fmt.Sprint(e["worker"]), "remote/") {
				return true
			}
		}
		return false
	})
}

// A listener beyond loopback does not start without authentication and
// TLS, whether the configuration was checked or not.
func TestQueueListenBeyondLoopbackRefused(t *testing.T) {
	secrets := t.TempDir()
	_, cert, key := queuePKI(t, secrets)
	pw := filepath.Join(secrets, "password")
	os.WriteFile(pw, []byte("s3cret"), 0o600)
	open := func(nc conf.NATSConfig) error {
		q, err := OpenQueue(context.Background(), t.TempDir(), nc, conf.JobsConfig{AckWait: conf.Duration(5 * time.Second)}, zerolog.Nop())
		if err == nil {
			q.Close()
		}
		return err
	}
	if err := open(conf.NATSConfig{Listen: "0.0.0.0:0"}); !errors.Is(err, ErrQueueExposed) {
		t.Errorf("no auth, no TLS: %v", err)
	}
	if err := open(conf.NATSConfig{Listen: "0.0.0.0:0", User: "w", PasswordFile: pw}); !errors.Is(err, ErrQueueExposed) {
		t.Errorf("auth, no TLS: %v", err)
	}
	if err := open(conf.NATSConfig{Listen: ":0", TLS: conf.NATSTLS{Cert: cert, Key: key}}); !errors.Is(err, ErrQueueExposed) {
		t.Errorf("TLS, no auth: %v", err)
	}
	if err := open(conf.NATSConfig{Listen: "0.0.0.0:0", User: "w", PasswordFile: pw, TLS: conf.NATSTLS{Cert: cert, Key: key}}); err != nil {
		t.Errorf("auth and TLS: %v", err)
	}
	// A secret readable by every user is refused.
	os.Chmod(pw, 0o644)
	if err := open(conf.NATSConfig{Listen: "127.0.0.1:0", User: "w", PasswordFile: pw}); err == nil || !strings.Contains(err.Error(), "readable by every user") {
		t.Errorf("world-readable password file: %v", err)
	}
}

// NKey authentication: serve and worker share a user seed; the server
// allows its public key; a client with another seed is refused.
func TestQueueNKey(t *testing.T) {
	dir := t.TempDir()
	seedFile := func(name string) string {
		kp, _ := nkeys.CreateUser()
		seed, _ := kp.Seed()
		p := filepath.Join(dir, name)
		os.WriteFile(p, seed, 0o600)
		return p
	}
	good, other := seedFile("good.nk"), seedFile("other.nk")
	q, err := OpenQueue(context.Background(), t.TempDir(), conf.NATSConfig{Listen: "127.0.0.1:0", NKeySeedFile: good},
		conf.JobsConfig{AckWait: conf.Duration(5 * time.Second)}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for name, seed := range map[string]string{"the shared seed": good, "another seed": other} {
		o, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(q.ClientURL(), o, nats.Timeout(10*time.Second), nats.MaxReconnects(0))
		if (err == nil) != (seed == good) {
			t.Errorf("%s: %v", name, err)
		}
		if err == nil {
			nc.Close()
		}
	}
}
