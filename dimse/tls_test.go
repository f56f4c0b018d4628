package dimse

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse/pdu"
)

type testPKI struct {
	pool         *x509.CertPool
	server       tls.Certificate
	client       tls.Certificate
	caPEM        []byte
	dir          string
	serverKeyPEM []byte
	serverPEM    []byte
	clientPEM    []byte
	clientKeyPEM []byte
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tweedie test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage) ([]byte, []byte, tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return certPEM, keyPEM, c
	}
	p := &testPKI{pool: x509.NewCertPool(), dir: t.TempDir()}
	p.pool.AddCert(ca)
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.serverPEM, p.serverKeyPEM, p.server = issue("tweedie server", x509.ExtKeyUsageServerAuth)
	p.clientPEM, p.clientKeyPEM, p.client = issue("modality", x509.ExtKeyUsageClientAuth)
	for name, b := range map[string][]byte{"ca.pem": p.caPEM, "server.pem": p.serverPEM, "server.key": p.serverKeyPEM,
		"client.pem": p.clientPEM, "client.key": p.clientKeyPEM} {
		os.WriteFile(filepath.Join(p.dir, name), b, 0o600)
	}
	return p
}

func TestTLSWithClientCertificates(t *testing.T) {
	pki := newPKI(t)
	events := make(chan Event, 16)
	_, addr := startServer(t, ServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{pki.server},
		ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		OnEvent: func(e Event) { events <- e }})
	good := &Client{CallingAE: "MODALITY", TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, ServerName: "localhost"}}
	a, err := good.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := a.Echo(); err != nil || st != 0 {
		t.Fatalf("echo over TLS: 0x%04X %v", st, err)
	}
	a.Release()
	if e := <-events; e.Kind != EventAssociationAccepted || !strings.Contains(e.Association.TLSPeer, "modality") {
		t.Errorf("event %+v", e)
	}
	// Without a client certificate the handshake fails and nothing is served.
	anon := &Client{CallingAE: "ANON", TLS: &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}}
	if a, err := anon.Associate(context.Background(), addr, "TWEEDIE", echoContexts()); err == nil {
		_, err = a.Echo()
		if err == nil {
			t.Fatal("echo without a client certificate succeeded")
		}
	}
	// Plain TCP to a TLS port fails too.
	plain := &Client{CallingAE: "PLAIN", ARTIM: 2 * time.Second}
	if _, err := plain.Associate(context.Background(), addr, "TWEEDIE", echoContexts()); err == nil {
		t.Fatal("plain association to a TLS listener succeeded")
	}
	// DCMTK's echoscu with its own TLS stack (OpenSSL) and our certificates.
	out, err := dcmtk(t, "echoscu", "-aec", "TWEEDIE", "+tls", filepath.Join(pki.dir, "client.key"), filepath.Join(pki.dir, "client.pem"),
		"-pem", "+cf", filepath.Join(pki.dir, "ca.pem"), "127.0.0.1", portOf(addr))
	if err != nil {
		t.Errorf("echoscu +tls: %v\n%s", err, out)
	}
}

func TestSourceAddressAllowlist(t *testing.T) {
	events := make(chan Event, 16)
	_, addr := startServer(t, ServerConfig{Policy: Policy{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		ARTIM: time.Minute, OnEvent: func(e Event) { events <- e }})
	// The address suffices, so it is checked at accept: the connection is
	// closed before the A-ASSOCIATE-RQ is read (a peer that sends nothing
	// is closed long before ARTIM), and no association can be negotiated.
	p := dialParrot(t, addr)
	p.expectClosed()
	if e := <-events; e.Kind != EventAssociationRejected || !strings.Contains(e.Reason, "127.0.0.1") {
		t.Errorf("no audit event naming the address: %+v", e)
	}
	cl := &Client{CallingAE: "SCU"}
	if _, err := cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts()); err == nil {
		t.Fatal("association from a refused address succeeded")
	}
	if e := <-events; e.Kind != EventAssociationRejected || !strings.Contains(e.Reason, "127.0.0.1") {
		t.Errorf("no audit event naming the address: %+v", e)
	}
	// Negotiate keeps its own check (a policy used without the server).
	pol := Policy{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	_, _, rej := pol.Negotiate(&pdu.AssociateRQ{ApplicationContext: pdu.ApplicationContext}, netip.MustParseAddr("127.0.0.1"))
	if rej == nil || rej.RJ.Reason != pdu.RejectNoReason || rej.RJ.Result != pdu.RejectPermanent {
		t.Fatalf("Negotiate from a refused address: %+v", rej)
	}
}
