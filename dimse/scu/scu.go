// Package scu is the DICOM client as a command line uses it: a peer named
// CALLED_AE@HOST:PORT, DICOM TLS (PS3.15 Annex B.1), C-ECHO
// (Verification, PS3.7 §9.1.5) and C-STORE of files and folders (Storage,
// PS3.4 Annex B) with a count of the outcomes. It stands on package dimse
// and knows nothing above it.
package scu

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

// ParseDestination splits "AE@host:port" into the called AE title and
// host:port (an empty host is localhost).
func ParseDestination(s string) (ae, addr string, err error) {
	i := strings.LastIndex(s, "@")
	if i <= 0 {
		return "", "", fmt.Errorf("destination %q: want CALLED_AE@HOST:PORT", s)
	}
	ae, addr = s[:i], s[i+1:]
	host, port, err := splitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("destination %q: %v", s, err)
	}
	return ae, host + ":" + port, nil
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", errors.New("missing :PORT")
	}
	host, port := addr[:i], addr[i+1:]
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("port %q is not 1 … 65535", port)
	}
	if host == "" {
		host = "localhost"
	}
	return host, port, nil
}

// TLSConfig is the client side of the TLS secure transport connection
// profile (PS3.15 Annex B.1): TLS 1.2 or later, the peer's certificate
// verified against the CAs in the PEM file ca (the system roots when
// empty), and a client certificate (PEM cert and key) for peers that
// verify clients. The server name is the peer's host (Echo, Sender.Send)
// unless set.
func TLSConfig(ca, cert, key string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", ca)
		}
		cfg.RootCAs = pool
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// verifyHost makes the TLS server name the host of addr unless one is set.
func verifyHost(c *dimse.Client, addr string) {
	if c.TLS != nil && c.TLS.ServerName == "" {
		c.TLS.ServerName = strings.Split(addr, ":")[0]
	}
}

// Echo verifies the peer with C-ECHO on an association of its own and
// returns the response status.
func Echo(ctx context.Context, c *dimse.Client, calledAE, addr string) (uint16, error) {
	verifyHost(c, addr)
	a, err := c.Associate(ctx, addr, calledAE, []dimse.ProposedContext{{AbstractSyntax: dimse.VerificationSOPClass,
		TransferSyntaxes: []string{part10.ExplicitVRLittleEndian, part10.ImplicitVRLittleEndian}}})
	if err != nil {
		return 0, err
	}
	st, err := a.Echo()
	if err != nil {
		a.Abort()
		return 0, err
	}
	_ = a.Release()
	return st, nil
}

// CollectFiles walks the paths. Folders are recursive and files in them that
// are not DICOM Part 10 are skipped and counted; a named file that is not
// DICOM is an error.
func CollectFiles(paths []string) (files []dimse.FileInfo, skipped []string, failed map[string]error) {
	failed = map[string]error{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			failed[p] = err
			continue
		}
		if !st.IsDir() {
			fi, err := dimse.ReadFileInfo(p)
			if err != nil {
				failed[p] = err
				continue
			}
			files = append(files, fi)
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				failed[path] = err
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			fi, err := dimse.ReadFileInfo(path)
			if err != nil {
				if errors.Is(err, part10.ErrNotPart10) {
					skipped = append(skipped, path)
				} else {
					failed[path] = err
				}
				return nil
			}
			files = append(files, fi)
			return nil
		})
	}
	return files, skipped, failed
}

// Sender sends files to one peer.
type Sender struct {
	Client   *dimse.Client
	CalledAE string
	Addr     string // host:port
	// Err receives a line per file that was not stored (and per path that
	// could not be read, and per association that failed, after Prefix);
	// Out, with Verbose, a line per file stored.
	Err, Out io.Writer
	Verbose  bool
	Prefix   string // of association errors, e.g. "tweedie send: "
}

// Report counts what became of the files of a Send.
type Report struct {
	Files      int            // DICOM files found
	Counts     map[string]int // by outcome: a status in words, or "not sent: why"
	Skipped    int            // files in folders that are not DICOM Part 10
	Unreadable int            // paths that could not be read
	Failed     int            // files not stored and paths not read
	Elapsed    time.Duration
}

// Send collects the files of paths (CollectFiles) and stores them in as
// few associations as their presentation contexts allow
// (dimse.PlanBatches): each file as it is, or converted to a native
// syntax the peer accepted. A file the peer refuses, or has no context
// for, is counted and the next one sent; when the association breaks, the
// rest of its files are counted as not sent.
func (s *Sender) Send(ctx context.Context, paths []string) Report {
	verifyHost(s.Client, s.Addr)
	files, skipped, failed := CollectFiles(paths)
	start := time.Now()
	r := Report{Files: len(files), Counts: map[string]int{}, Skipped: len(skipped), Unreadable: len(failed), Failed: len(failed)}
	for p, err := range failed {
		fmt.Fprintf(s.Err, "%s: %v\n", p, err)
	}
	for _, batch := range dimse.PlanBatches(files) {
		a, err := s.Client.Associate(ctx, s.Addr, s.CalledAE, dimse.ProposeFor(batch))
		if err != nil {
			fmt.Fprintf(s.Err, "%s%s@%s: %v\n", s.Prefix, s.CalledAE, s.Addr, err)
			r.Counts["not sent: "+err.Error()] += len(batch)
			r.Failed += len(batch)
			continue
		}
		for i, f := range batch {
			st, err := a.StoreFile(f)
			key := msg.StatusString(st)
			switch {
			case errors.Is(err, dimse.ErrNoContext):
				key = "not sent: no accepted presentation context"
			case err != nil && st == 0:
				key = "not sent: " + err.Error()
			}
			r.Counts[key]++
			if err != nil || msg.Classify(st) == msg.Failure {
				r.Failed++
				fmt.Fprintf(s.Err, "%s: %s %v\n", f.Path, key, errOrEmpty(err))
			} else if s.Verbose {
				fmt.Fprintf(s.Out, "%s: %s\n", f.Path, key)
			}
			if err != nil && !errors.Is(err, dimse.ErrNoContext) && !isStatus(err) {
				// The association is gone; the rest of the batch is not sent.
				r.Counts["not sent: association ended"] += len(batch) - i - 1
				r.Failed += len(batch) - i - 1
				a = nil
				break
			}
		}
		if a != nil {
			_ = a.Release()
		}
	}
	r.Elapsed = time.Since(start)
	return r
}

// Print writes the report: the files, the time and the rate, then one
// line per outcome with its count.
func (r Report) Print(w io.Writer, calledAE, addr string) {
	el := r.Elapsed.Seconds()
	fmt.Fprintf(w, "%d files to %s@%s in %.2f s (%.1f files/s)\n", r.Files, calledAE, addr, el, float64(r.Files)/max(el, 1e-9))
	keys := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-50s %d\n", k, r.Counts[k])
	}
	if r.Skipped > 0 {
		fmt.Fprintf(w, "  %-50s %d\n", "skipped: not DICOM Part 10", r.Skipped)
	}
	if r.Unreadable > 0 {
		fmt.Fprintf(w, "  %-50s %d\n", "unreadable", r.Unreadable)
	}
}

func isStatus(err error) bool {
	var se *dimse.StatusError
	return errors.As(err, &se)
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
