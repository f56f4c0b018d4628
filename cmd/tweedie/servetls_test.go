package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/conf"
)

// issue makes a key and a certificate for cn signed by parent (self-signed
// when parent is nil) and writes them as PEM files in dir.
func issue(t *testing.T, dir, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key, certPath, keyPath
}

// TestClientCAImpliesVerification: node.tls.client_ca without verify_client
// used to ask for a client certificate but let clients without one in; now
// naming client CAs makes the certificate required. A real handshake each
// way: anonymous refused, a certificate from the CA accepted.
func TestClientCAImpliesVerification(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPath, _ := issue(t, dir, "ca", true, nil, nil)
	_, _, srvCert, srvKey := issue(t, dir, "server", false, ca, caKey)
	_, _, cliCert, cliKey := issue(t, dir, "client", false, ca, caKey)
	cfg, err := serverTLS(conf.TLSConfig{Cert: srvCert, Key: srvKey, ClientCA: caPath})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("client_ca alone: ClientAuth %v, want RequireAndVerifyClientCert", cfg.ClientAuth)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	results := make(chan error)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			results <- c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	dial := func(certs []tls.Certificate) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: certs})
		if err == nil {
			c.Close()
		}
		return <-results // the server's verdict
	}
	if err := dial(nil); err == nil {
		t.Error("a client without a certificate was accepted with client_ca set")
	}
	pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := dial([]tls.Certificate{pair}); err != nil {
		t.Errorf("a client with a certificate from client_ca refused: %v", err)
	}
}
