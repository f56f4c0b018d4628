package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
)

// Sender delivers batches of instances to one destination and reports
// each instance's outcome; the outbox (dispatch.go) keeps the retry queue
// and knows destinations only through this interface. The C-STORE SCU
// (dicomSender) and the folder (folderSender) are its implementations; a
// new transport, DICOMweb STOW-RS (PS3.18 §10.5) for one, is a third one
// and NewSender's case for it.
type Sender interface {
	// Send delivers files, calling report once for each instance whose
	// outcome is known. An error means the destination could not be
	// reached: the outbox backs off; instances not reported stay queued
	// without an attempt counted.
	Send(ctx context.Context, files []dimse.FileInfo, report func(Result)) error
	// Peer names the receiving side in the audit stream: its AE title, or
	// "" for a folder.
	Peer() string
}

// Result is the outcome of one instance.
type Result struct {
	File dimse.FileInfo
	// Err is nil when the instance was delivered (for DICOM: Success or a
	// warning status, PS3.4 §B.2.3).
	Err error
	// Final says no retry can help (the peer accepted no presentation
	// context for the SOP class): the instance goes to the dead letters.
	Final bool
}

// NewSender returns the sender of a destination by its type.
func NewSender(d conf.Destination, log zerolog.Logger) (Sender, error) {
	if d.Type == "folder" {
		if err := mkdirDurable(d.Path); err != nil {
			return nil, err
		}
		return folderSender{dir: d.Path}, nil
	}
	s := &dicomSender{d: d}
	if d.TLS.Enabled || d.TLS.CA != "" || d.TLS.Cert != "" {
		c, err := clientTLS(d)
		if err != nil {
			return nil, err
		}
		s.tls = c
	}
	return s, nil
}

// folderSender links (or copies) each instance into a folder, made durable
// by one fsync of the folder before any is reported delivered.
type folderSender struct{ dir string }

func (f folderSender) Peer() string { return "" }

func (f folderSender) Send(_ context.Context, files []dimse.FileInfo, report func(Result)) error {
	var copied []dimse.FileInfo
	for _, fi := range files {
		if err := linkOrCopy(fi.Path, filepath.Join(f.dir, filepath.Base(fi.Path))); err != nil {
			report(Result{File: fi, Err: err})
			continue
		}
		copied = append(copied, fi)
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	for _, fi := range copied {
		report(Result{File: fi})
	}
	return nil
}

// dicomSender is a Storage SCU (PS3.4 Annex B): one association per group
// of files whose presentation contexts fit in one (dimse.PlanBatches).
type dicomSender struct {
	d   conf.Destination
	tls *tls.Config
}

func (s *dicomSender) Peer() string { return s.d.AETitle }

func (s *dicomSender) Send(ctx context.Context, files []dimse.FileInfo, report func(Result)) error {
	log := zerolog.Ctx(ctx)
	for _, b := range dimse.PlanBatches(files) {
		if err := s.association(ctx, b, report, *log); err != nil {
			for _, fi := range b {
				report(Result{File: fi, Err: err})
			}
			return err
		}
	}
	return nil
}

// association sends files over one association; an error means it could
// not be opened.
func (s *dicomSender) association(ctx context.Context, files []dimse.FileInfo, report func(Result), log zerolog.Logger) error {
	d := s.d
	c := &dimse.Client{CallingAE: d.CallingAE, TLS: s.tls, DialTimeout: 10 * time.Second, ARTIM: 30 * time.Second,
		DIMSETimeout: 60 * time.Second, Log: log}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	a, err := c.Associate(actx, net.JoinHostPort(d.Host, strconv.Itoa(d.Port)), d.AETitle, dimse.ProposeFor(files))
	cancel()
	if err != nil {
		return fmt.Errorf("association with %s@%s:%d: %w", d.AETitle, d.Host, d.Port, err)
	}
	for i, fi := range files {
		st, err := a.StoreFile(fi)
		cls := msg.Classify(st)
		switch {
		case err == nil && (cls == msg.Success || cls == msg.Warning):
			report(Result{File: fi})
		case err != nil && errors.Is(err, dimse.ErrNoContext):
			report(Result{File: fi, Err: err, Final: true})
		case err != nil && st == 0:
			// The association broke: this and the rest count an attempt.
			a.Abort()
			for _, rest := range files[i:] {
				report(Result{File: rest, Err: err})
			}
			return nil
		default:
			if err == nil {
				err = fmt.Errorf("status 0x%04X %s", st, msg.StatusString(st))
			}
			report(Result{File: fi, Err: err})
		}
	}
	if err := a.Release(); err != nil {
		log.Debug().Err(err).Msg("release")
	}
	return nil
}

// clientTLS is the TLS configuration of a DICOM destination (PS3.15
// Annex B.1, the TLS secure transport connection profile).
func clientTLS(d conf.Destination) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: d.TLS.ServerName}
	if c.ServerName == "" {
		c.ServerName = d.Host
	}
	if d.TLS.CA != "" {
		pem, err := os.ReadFile(d.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s has no PEM certificates", d.TLS.CA)
		}
		c.RootCAs = pool
	}
	if d.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(d.TLS.Cert, d.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
