package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/pdu"
	"github.com/tweedie-recon/tweedie/internal/peers"
)

// shutdownDrain is the drain time of runNode's shutdown.
const shutdownDrain = 30 * time.Second

// TestSIGTERMNotDelayedByPeerThatNeverReads: `tweedie serve` with every
// DICOM timeout at an hour, and a peer that associates, sends C-ECHO-RQs
// and never reads the responses, until the server's writer is stuck on it.
// SIGTERM must still end the process within the drain time (and the
// second the A-ABORTs are given).
func TestSIGTERMNotDelayedByPeerThatNeverReads(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 30 s drain time")
	}
	port := peers.FreePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
  timeouts: {idle: 1h, dimse: 1h, write: 1h}
http:
  listen: ""
jobs:
  workers: 0
`, port, t.TempDir()))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = serve.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			serve.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})

	// A small receive buffer, set before connecting (see the dimse tests'
	// smallWindowDialer for why not after).
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(pdu.Encode(&pdu.AssociateRQ{ProtocolVersion: 1, CalledAE: "TWEEDIE", CallingAE: "DEAF", ApplicationContext: pdu.ApplicationContext,
		PresentationContexts: []pdu.PresentationContextRQ{{ID: 1, AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: []string{"1.2.840.10008.1.2"}}},
		UserInfo:             pdu.UserInfo{MaxLength: 16384}}))
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if p, err := pdu.NewReader(nc, 1<<20).Next(); err != nil || p.Type() != pdu.TypeAssociateAC {
		t.Fatalf("not associated: %v %v", p, err)
	}
	var burst []byte
	for i := range 1000 {
		cmd := (&msg.Command{Field: msg.CEchoRQ, MessageID: uint16(i + 1), AffectedSOPClassUID: dimse.VerificationSOPClass}).Encode()
		burst = append(burst, pdu.Encode(&pdu.PData{Items: []pdu.PDV{{ContextID: 1, Header: pdu.PDVCommand | pdu.PDVLast, Data: cmd}}})...)
	}
	// Send until the server has stopped reading for two seconds (its one
	// goroutine for this association is blocked writing), and go on
	// sending in the background so that it stays so.
	stalled := make(chan error, 1)
	go func() {
		first := true
		for {
			nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, err := nc.Write(burst)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if first {
					stalled <- nil
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
		if err != nil {
			t.Fatalf("the server closed the connection before its writer blocked: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the server kept reading for two minutes")
	}

	start := time.Now()
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		d := time.Since(start)
		if exitErr != nil {
			t.Errorf("serve exited with %v", exitErr)
		}
		t.Logf("serve exited %s after SIGTERM", d.Round(time.Millisecond))
		// The drain, the A-ABORT grace, and slack for a loaded machine.
		if d > shutdownDrain+10*time.Second {
			t.Errorf("serve took %s to exit after SIGTERM", d)
		}
	case <-time.After(shutdownDrain + 60*time.Second):
		t.Fatalf("serve still running %s after SIGTERM", shutdownDrain+60*time.Second)
	}
}
