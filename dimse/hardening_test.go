package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/dimse/ul"
	"github.com/tweedie-recon/tweedie/internal/peers"
)

// Tests of the server against hostile peers, with real sockets: peers that
// never read, connections that never associate, floods from one address and
// from many.

// deafPeer associates and then sends C-ECHO-RQs as fast as the server takes
// them without ever reading a response: the server's answers fill the
// socket buffers until its writer blocks. The sending goes on in the
// background until the connection fails (the server closed it, or the test
// ended). deafPeer returns once the server has first stopped reading for
// two seconds, which with the sending going on means its one goroutine is
// blocked writing, or on an error when the server closed the connection
// before that.
func deafPeer(t *testing.T, addr string) (net.Conn, error) {
	t.Helper()
	nc, err := smallWindowDialer().Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_, _ = nc.Write(pdu.Encode(&pdu.AssociateRQ{ProtocolVersion: 1, CalledAE: "TWEEDIE", CallingAE: "DEAF", ApplicationContext: pdu.ApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{"1.2.840.10008.1.2"}}},
		UserInfo:             pdu.UserInfo{MaxLength: 16384}}))
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if p, err := pdu.NewReader(nc, 1<<20).Next(); err != nil || p.Type() != pdu.TypeAssociateAC {
		t.Fatalf("deaf peer not associated: %v %v", p, err)
	}
	// A thousand C-ECHO-RQs per write.
	var burst []byte
	for i := range 1000 {
		cmd := (&msg.Command{Field: msg.CEchoRQ, MessageID: uint16(i + 1), AffectedSOPClassUID: VerificationSOPClass}).Encode()
		burst = append(burst, pdu.Encode(&pdu.PData{Items: []pdu.PDV{{ContextID: 1, Header: pdu.PDVCommand | pdu.PDVLast, Data: cmd}}})...)
	}
	stalled := make(chan error, 1)
	go func() {
		first := true
		for {
			_ = nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, err := nc.Write(burst)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if first {
					stalled <- nil // the server stopped reading: its writer is stuck
					first = false
				}
				continue
			}
			if err != nil {
				if first {
					stalled <- err
				}
				return
			}
		}
	}()
	select {
	case err := <-stalled:
		return nc, err
	case <-time.After(2 * time.Minute):
		t.Fatal("the server kept reading for two minutes from a peer that never reads")
	}
	return nil, nil
}

// smallWindowDialer dials with a small receive buffer, so that fewer
// responses fill it. It is set before the connection is made: shrinking it
// afterwards, under data already queued, makes Linux drop the server's
// segments and the acknowledgements they carry, and the connection can
// stall both ways with the server's goroutine waiting to read.
func smallWindowDialer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
}

// TestPeerThatNeverReadsEndsAtWriteTimeout: the write deadline ends an
// association whose peer does not read, and the server goes on serving.
func TestPeerThatNeverReadsEndsAtWriteTimeout(t *testing.T) {
	ended := make(chan Event, 4)
	_, addr := startServer(t, ServerConfig{WriteTimeout: time.Second, IdleTimeout: time.Hour, DIMSETimeout: time.Hour,
		OnEvent: func(e Event) {
			if e.Kind == EventAssociationEnded && e.Association.CallingAE == "DEAF" {
				ended <- e
			}
		}})
	// The server may close (write timeout) before the peer notices it has
	// stopped reading; either way the event tells.
	nc, _ := deafPeer(t, addr)
	select {
	case e := <-ended:
		if !errors.Is(e.Err, ul.ErrWriteTimeout) {
			t.Errorf("association ended by %v, want the write timeout", e.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("association with a peer that never reads still open 30 s after a 1 s write timeout")
	}
	// The transport is closed: what the peer reads ends.
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("peer's connection not closed: %v", err)
	}
	mustEcho(t, addr)
}

// TestShutdownNotBlockedByPeerThatNeverReads: with a write timeout far
// beyond the test, only Shutdown's own handling can end the association of
// a peer that never reads; Shutdown must return within the drain time plus
// the abort grace (before, it aborted under the server's lock while the
// writer held the connection's, and never returned).
func TestShutdownNotBlockedByPeerThatNeverReads(t *testing.T) {
	s, addr := startServer(t, ServerConfig{WriteTimeout: time.Hour, IdleTimeout: time.Hour, DIMSETimeout: time.Hour})
	if _, err := deafPeer(t, addr); err != nil {
		t.Fatalf("the server closed before its writer blocked: %v", err)
	}
	const drain = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want the drain deadline", err)
		}
		// drain + shutdownAbortGrace, with slack for a loaded machine.
		if d := time.Since(start); d > drain+shutdownAbortGrace+5*time.Second {
			t.Errorf("Shutdown took %s", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown blocked by a peer that never reads")
	}
}

// dialFrom opens n TCP connections to addr from source address src (any
// 127.0.0.0/8 address is local on Linux), which send nothing.
func dialFrom(t *testing.T, src, addr string, n int) []net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	var out []net.Conn
	for range n {
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		out = append(out, nc)
	}
	t.Cleanup(func() {
		for _, nc := range out {
			nc.Close()
		}
	})
	return out
}

// closedByServer counts the connections the server has closed (EOF or
// reset on read); the others time out.
func closedByServer(conns []net.Conn) int {
	var n int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = nc.SetReadDeadline(time.Now().Add(time.Second))
			var b [1]byte
			_, err := nc.Read(b[:])
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n
}

func (s *Server) pendingCounts() (int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := map[string]int{}
	for a, n := range s.pendingBy {
		by[a.String()] = n
	}
	return s.pending, by
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// legitimateStores sends one file with DCMTK's storescu and one object with
// tweedie's SCU, both from 127.0.0.1, and checks both arrived.
func legitimateStores(t *testing.T, addr, dir string) {
	t.Helper()
	f := filepath.Join(peers.SharedData(t), "dicom", "pydicom-deb", "CT_small.dcm")
	if out, err := dcmtk(t, "storescu", "-aec", "TWEEDIE", "127.0.0.1", portOf(addr), f); err != nil {
		t.Fatalf("storescu during the flood: %v\n%s", err, out)
	}
	fi, err := ReadFileInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, fi.SOPInstanceUID+".dcm")); err != nil {
		t.Fatalf("storescu's object not stored: %v", err)
	}
	cl := &Client{CallingAE: "LEGIT", ARTIM: 10 * time.Second}
	a, err := cl.Associate(context.Background(), addr, "TWEEDIE", ProposeFor([]FileInfo{fi}))
	if err != nil {
		t.Fatalf("tweedie SCU during the flood: %v", err)
	}
	defer a.Release()
	if st, err := a.StoreFile(fi); err != nil || st != msg.StatusSuccess {
		t.Fatalf("tweedie SCU store during the flood: 0x%04X %v", st, err)
	}
}

// TestStalledConnectionsFromOneAddress: hundreds of connections that never
// associate, from one address, are held to the per-address limit (the rest
// closed at accept), and a legitimate peer stores meanwhile.
func TestStalledConnectionsFromOneAddress(t *testing.T) {
	dir := t.TempDir()
	s, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir}, ARTIM: time.Hour, MaxPendingPerAddress: 16, MaxPending: 64})
	conns := dialFrom(t, "127.0.0.2", addr, 300)
	waitFor(t, 20*time.Second, "300 connections accepted and counted", func() bool {
		_, by := s.pendingCounts()
		return by["127.0.0.2"] == 16 && closedByServer(conns[len(conns)-10:]) == 10
	})
	legitimateStores(t, addr, dir)
	if n := closedByServer(conns); n != 300-16 {
		t.Errorf("%d of 300 stalled connections closed by the server, want %d", n, 300-16)
	}
	if total, by := s.pendingCounts(); total != 16 || by["127.0.0.2"] != 16 {
		t.Errorf("pending %d %v after the stores, want the 16 stalled ones", total, by)
	}
}

// TestStalledConnectionsFromManyAddresses: stalled connections from many
// addresses, each under the per-address limit, fill the total; each new
// connection evicts the oldest stalled one, so a legitimate peer, which
// sends its A-ASSOCIATE-RQ at once, still stores.
func TestStalledConnectionsFromManyAddresses(t *testing.T) {
	dir := t.TempDir()
	const total = 32
	s, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir}, ARTIM: time.Hour, MaxPendingPerAddress: 4, MaxPending: total})
	var conns []net.Conn
	for i := range 100 {
		conns = append(conns, dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), addr, 3)...)
	}
	waitFor(t, 20*time.Second, "the total limit reached", func() bool {
		n, _ := s.pendingCounts()
		return n == total
	})
	legitimateStores(t, addr, dir)
	if n, _ := s.pendingCounts(); n > total {
		t.Errorf("%d pending connections, limit %d", n, total)
	}
	// The newest stalled connections are the ones kept.
	if n := closedByServer(conns[:len(conns)-total]); n != len(conns)-total {
		t.Errorf("%d of the %d oldest stalled connections closed, want all", n, len(conns)-total)
	}
}

// TestRefusedAddressFloodAuditedInPart: every connection from an address
// outside the allowlist is closed at accept, but a flood of them becomes at
// most alertsPerSecond audit events a second.
func TestRefusedAddressFloodAuditedInPart(t *testing.T) {
	var mu sync.Mutex
	var events []Event
	_, addr := startServer(t, ServerConfig{Policy: Policy{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		OnEvent: func(e Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
	start := time.Now()
	conns := dialFrom(t, "127.0.0.3", addr, 200)
	if n := closedByServer(conns); n != len(conns) {
		t.Errorf("%d of %d connections from a refused address closed", n, len(conns))
	}
	elapsed := time.Since(start)
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if max := alertsPerSecond * (int(elapsed/time.Second) + 2); n < 1 || n > max {
		t.Errorf("%d audit events for 200 refusals in %s, want 1 to %d", n, elapsed, max)
	}
	mustEcho(t, addr)
}
