package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/part10"
)

// memStore keeps received data sets in memory (test objects are small).
type memStore struct {
	mu    sync.Mutex
	got   map[string][]byte
	ts    map[string]string
	fail  error // returned by BeginStore when set
	panic bool
}

func newMemStore() *memStore { return &memStore{got: map[string][]byte{}, ts: map[string]string{}} }

type memSink struct {
	s   *memStore
	req *StoreRequest
	buf bytes.Buffer
}

func (m *memStore) BeginStore(req *StoreRequest) (StoreSink, error) {
	if m.panic {
		panic("handler bug")
	}
	if m.fail != nil {
		return nil, m.fail
	}
	return &memSink{s: m, req: req}, nil
}

func (k *memSink) Write(p []byte) (int, error) { return k.buf.Write(p) }
func (k *memSink) Close(err error) (uint16, error) {
	if err != nil {
		return 0, err
	}
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	k.s.got[k.req.SOPInstanceUID] = k.buf.Bytes()
	k.s.ts[k.req.SOPInstanceUID] = k.req.TransferSyntaxUID
	return msg.StatusSuccess, nil
}

func (m *memStore) get(uid string) ([]byte, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.got[uid], m.ts[uid]
}

func startServer(t *testing.T, cfg ServerConfig) (*Server, string) {
	t.Helper()
	if cfg.AETitle == "" {
		cfg.AETitle = "TWEEDIE"
		cfg.RequireCalledAE = true
	}
	cfg.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s := NewServer(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, ln.Addr().String()
}

func echoContexts() []ProposedContext {
	return []ProposedContext{{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}}
}

// mustEcho proves the server still serves.
func mustEcho(t *testing.T, addr string) {
	t.Helper()
	c := &Client{CallingAE: "ECHOER", ARTIM: 5 * time.Second}
	a, err := c.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
	if err != nil {
		t.Fatalf("server no longer serves: %v", err)
	}
	st, err := a.Echo()
	if err != nil || st != msg.StatusSuccess {
		t.Fatalf("echo: 0x%04X %v", st, err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}
}

func TestEchoAndStoreRoundTrip(t *testing.T) {
	store := newMemStore()
	_, addr := startServer(t, ServerConfig{Store: store, Policy: Policy{AcceptAnyStorage: true}})
	mustEcho(t, addr)
	c := &Client{CallingAE: "SCU"}
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 100_000) // spans several PDVs
	a, err := c.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{{AbstractSyntax: RawDataStorage, TransferSyntaxes: []string{part10.ExplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Store(RawDataStorage, "1.2.3.4", part10.ExplicitVRLittleEndian, bytes.NewReader(data))
	if err != nil || st != 0 {
		t.Fatalf("store: 0x%04X %v", st, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	got, ts := store.get("1.2.3.4")
	if !bytes.Equal(got, data) || ts != part10.ExplicitVRLittleEndian {
		t.Fatalf("received %d bytes (%s), sent %d", len(got), ts, len(data))
	}
}

func TestRejections(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Policy: Policy{AETitle: "TWEEDIE", RequireCalledAE: true, AllowedCallingAE: []string{"GOOD"}}})
	cases := []struct {
		calling, called string
		reason          byte
	}{
		{"GOOD", "WRONG", pdu.RejectCalledAENotRecognized},
		{"BAD", "TWEEDIE", pdu.RejectCallingAENotRecognized},
	}
	for _, c := range cases {
		cl := &Client{CallingAE: c.calling}
		_, err := cl.Associate(context.Background(), addr, c.called, echoContexts())
		var rj *RejectedError
		if !errors.As(err, &rj) || rj.RJ.Reason != c.reason || rj.RJ.Result != pdu.RejectPermanent || rj.RJ.Source != pdu.RejectSourceUser {
			t.Errorf("%s→%s: got %v, want rejection reason %d", c.calling, c.called, err, c.reason)
		}
	}
	cl := &Client{CallingAE: "GOOD"}
	a, err := cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
}

func TestUnsupportedSOPClass(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Store: newMemStore()})
	cl := &Client{CallingAE: "SCU"}
	_, err := cl.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{{AbstractSyntax: "1.2.840.10008.5.1.4.1.2.2.1", TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}})
	if err == nil || !strings.Contains(err.Error(), "accepted none") {
		t.Fatalf("Study Root C-FIND is not served here; got %v", err)
	}
	// Mixed proposal: the storage context is accepted, the other refused with
	// result 3 (abstract syntax not supported), and the association stands.
	a, err := cl.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{
		{AbstractSyntax: "1.2.840.10008.5.1.4.1.2.2.1", TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}},
		{AbstractSyntax: MRImageStorage, TransferSyntaxes: []string{"1.2.3.4.5.6"}},
		{AbstractSyntax: CTImageStorage, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Contexts(); len(got) != 1 || got[0].AbstractSyntax != CTImageStorage || got[0].ID != 5 {
		t.Errorf("accepted %+v", got)
	}
	if _, err := a.Store(MRImageStorage, "1.2.3", part10.ImplicitVRLittleEndian, strings.NewReader("")); !errors.Is(err, ErrNoContext) {
		t.Errorf("store on refused class: %v", err)
	}
	a.Release()
}

func TestHandlerFailuresBecomeStatuses(t *testing.T) {
	store := newMemStore()
	_, addr := startServer(t, ServerConfig{Store: store})
	send := func() (uint16, error) {
		cl := &Client{CallingAE: "SCU"}
		a, err := cl.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{{AbstractSyntax: CTImageStorage, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release()
		return a.Store(CTImageStorage, "1.2.3", part10.ImplicitVRLittleEndian, bytes.NewReader(make([]byte, 300_000)))
	}
	store.fail = fmt.Errorf("disk: %w", ErrOutOfResources)
	if st, _ := send(); st != msg.StatusOutOfResources {
		t.Errorf("out of resources: got 0x%04X", st)
	}
	store.fail = errors.New("boom")
	if st, _ := send(); st != msg.StatusHandlerFailed {
		t.Errorf("handler error: got 0x%04X", st)
	}
	store.fail, store.panic = nil, true
	if st, _ := send(); st != msg.StatusHandlerFailed {
		t.Errorf("handler panic: got 0x%04X", st)
	}
	store.panic = false
	if st, err := send(); st != 0 || err != nil {
		t.Errorf("after failures: 0x%04X %v", st, err)
	}
}

func TestAssociationLimit(t *testing.T) {
	_, addr := startServer(t, ServerConfig{MaxAssociations: 1})
	cl := &Client{CallingAE: "SCU"}
	a, err := cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
	var rj *RejectedError
	if !errors.As(err, &rj) || rj.RJ.Result != pdu.RejectTransient || rj.RJ.Source != pdu.RejectSourceProviderPresentn || rj.RJ.Reason != pdu.RejectLocalLimitExceeded {
		t.Fatalf("second association: %v", err)
	}
	a.Release()
	// The slot is free again (the release is answered before the count drops).
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err = cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
}

// parrot is a scripted peer at the PDU level.
type parrot struct {
	t  *testing.T
	nc net.Conn
}

func dialParrot(t *testing.T, addr string) *parrot {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &parrot{t: t, nc: nc}
}

func (p *parrot) send(b []byte) {
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("parrot write: %v", err)
	}
}

// expect reads the next PDU and checks its type.
func (p *parrot) expect(want pdu.Type) pdu.PDU {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := pdu.NewReader(p.nc, 1<<20).Next()
	if err != nil {
		p.t.Fatalf("waiting for %s: %v", want, err)
	}
	if got.Type() != want {
		p.t.Fatalf("got %s, want %s", got.Type(), want)
	}
	return got
}

// expectClosed checks that the server closes the connection.
func (p *parrot) expectClosed() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, p.nc); err != nil {
		p.t.Fatalf("server did not close the connection: %v", err)
	}
}

func (p *parrot) associate() {
	p.t.Helper()
	p.send(pdu.Encode(&pdu.AssociateRQ{ProtocolVersion: 1, CalledAE: "TWEEDIE", CallingAE: "PARROT", ApplicationContext: pdu.ApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}},
		UserInfo:             pdu.UserInfo{MaxLength: 16384}}))
	ac := p.expect(pdu.TypeAssociateAC).(*pdu.AssociateAC)
	if len(ac.PresentationContexts) != 1 || ac.PresentationContexts[0].Result != 0 {
		p.t.Fatalf("AC %+v", ac)
	}
}

func TestProtocolViolations(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Policy: Policy{MaxPDU: 16384}, ARTIM: 300 * time.Millisecond, DIMSETimeout: 300 * time.Millisecond, IdleTimeout: time.Second})
	t.Run("garbage before association", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.send([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		ab := p.expect(pdu.TypeAbort).(*pdu.Abort)
		if ab.Reason != pdu.AbortUnrecognizedPDU {
			t.Errorf("abort reason %d", ab.Reason)
		}
		p.expectClosed()
	})
	t.Run("garbage after association", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		p.send([]byte{0x42, 0, 0, 0, 0, 2, 1, 1})
		ab := p.expect(pdu.TypeAbort).(*pdu.Abort)
		if ab.Source != pdu.AbortSourceProvider || ab.Reason != pdu.AbortUnrecognizedPDU {
			t.Errorf("abort %+v", ab)
		}
		p.expectClosed()
	})
	t.Run("oversized PDU", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		h := []byte{0x04, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[2:], 16384+1)
		p.send(h)
		p.send(make([]byte, 1000))
		ab := p.expect(pdu.TypeAbort).(*pdu.Abort)
		if ab.Source != pdu.AbortSourceProvider || ab.Reason != pdu.AbortInvalidPDUParamValue {
			t.Errorf("abort %+v", ab)
		}
		p.expectClosed()
	})
	t.Run("stall mid-PDU", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		p.send([]byte{0x04, 0, 0, 0, 0x10, 0, 0, 0}) // announces 4096 bytes, sends 2
		p.expect(pdu.TypeAbort)
		p.expectClosed()
	})
	t.Run("stall before A-ASSOCIATE-RQ (ARTIM)", func(t *testing.T) {
		p := dialParrot(t, addr)
		start := time.Now()
		p.expectClosed()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("ARTIM took %s", d)
		}
	})
	t.Run("data PDV on unknown context", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		p.send(pdu.Encode(&pdu.PData{Items: []pdu.PDV{{ContextID: 7, Header: 3, Data: []byte{0, 0}}}}))
		p.expect(pdu.TypeAbort)
		p.expectClosed()
	})
	t.Run("malformed command set", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		p.send(pdu.Encode(&pdu.PData{Items: []pdu.PDV{{ContextID: 1, Header: 3, Data: []byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f}}}}))
		p.expect(pdu.TypeAbort)
		p.expectClosed()
	})
	t.Run("protocol version 0", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.send(pdu.Encode(&pdu.AssociateRQ{ProtocolVersion: 2, CalledAE: "TWEEDIE", CallingAE: "PARROT", ApplicationContext: pdu.ApplicationContext,
			PresentationContexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}}}))
		rj := p.expect(pdu.TypeAssociateRJ).(*pdu.AssociateRJ)
		if rj.Source != pdu.RejectSourceProviderACSE || rj.Reason != pdu.RejectProtocolVersionNotSupp {
			t.Errorf("RJ %+v", rj)
		}
		p.expectClosed()
	})
	t.Run("idle association", func(t *testing.T) {
		p := dialParrot(t, addr)
		p.associate()
		p.expect(pdu.TypeAbort) // after IdleTimeout
		p.expectClosed()
	})
	// After all of this the server still serves.
	mustEcho(t, addr)
}

func TestShutdownFinishesInFlight(t *testing.T) {
	store := newMemStore()
	s, addr := startServer(t, ServerConfig{Store: store})
	cl := &Client{CallingAE: "SCU"}
	a, err := cl.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{{AbstractSyntax: CTImageStorage, TransferSyntaxes: []string{part10.ImplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	// The association in flight can still store and release.
	if st, err := a.Store(CTImageStorage, "9.8.7", part10.ImplicitVRLittleEndian, strings.NewReader("abcd")); err != nil || st != 0 {
		t.Fatalf("store during shutdown: 0x%04X %v", st, err)
	}
	a.Release()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := cl.Associate(context.Background(), addr, "TWEEDIE", echoContexts()); err == nil {
		t.Fatal("new association accepted after shutdown")
	}
}
