package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

// scuFlags are shared by echo and send.
type scuFlags struct {
	callingAE string
	tlsOn     bool
	tlsCA     string
	tlsCert   string
	tlsKey    string
	timeout   time.Duration
}

func (f *scuFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.callingAE, "calling-ae", "TWEEDIE", "calling AE title")
	fs.BoolVar(&f.tlsOn, "tls", false, "use DICOM TLS")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CAs that sign the peer's certificate (default: system roots)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM client certificate, for peers that verify clients")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM key of the client certificate")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "connect, association and response timeout")
}

func (f *scuFlags) client() (*dimse.Client, error) {
	c := &dimse.Client{CallingAE: f.callingAE, DialTimeout: f.timeout, ARTIM: f.timeout, DIMSETimeout: f.timeout,
		Log: zerolog.New(os.Stderr).With().Timestamp().Logger().Level(zerolog.WarnLevel)}
	if f.tlsOn || f.tlsCA != "" || f.tlsCert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificates", f.tlsCA)
			}
			cfg.RootCAs = pool
		}
		if f.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		c.TLS = cfg
	}
	return c, nil
}

// parseDestination splits "AE@host:port".
func parseDestination(s string) (ae, addr string, err error) {
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

func cmdEcho(args []string) int {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	var sf scuFlags
	sf.register(fs)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: tweedie echo [flags] CALLED@HOST:PORT"); fs.PrintDefaults() }
	fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ae, addr, err := parseDestination(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie echo:", err)
		return 2
	}
	c, err := sf.client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie echo:", err)
		return 2
	}
	if c.TLS != nil && c.TLS.ServerName == "" {
		c.TLS.ServerName = strings.Split(addr, ":")[0]
	}
	start := time.Now()
	a, err := c.Associate(context.Background(), addr, ae, []dimse.ProposedContext{{AbstractSyntax: dimse.VerificationSOPClass,
		TransferSyntaxes: []string{part10.ExplicitVRLittleEndian, part10.ImplicitVRLittleEndian}}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "tweedie echo: %s@%s: %v\n", ae, addr, err)
		return 1
	}
	st, err := a.Echo()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tweedie echo: %s@%s: %v\n", ae, addr, err)
		a.Abort()
		return 1
	}
	_ = a.Release()
	fmt.Printf("C-ECHO %s@%s: %s in %.1f ms\n", ae, addr, msg.StatusString(st), float64(time.Since(start).Microseconds())/1000)
	if st != msg.StatusSuccess {
		return 1
	}
	return 0
}

// collectFiles walks the paths. Folders are recursive and files in them that
// are not DICOM Part 10 are skipped and counted; a named file that is not
// DICOM is an error.
func collectFiles(paths []string) (files []dimse.FileInfo, skipped []string, failed map[string]error) {
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

func cmdSend(args []string) int {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	var sf scuFlags
	sf.register(fs)
	verbose := fs.Bool("v", false, "print one line per file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tweedie send [flags] CALLED@HOST:PORT PATH...\nPATHs are Part 10 files or folders (recursive).")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() < 2 {
		fs.Usage()
		return 2
	}
	ae, addr, err := parseDestination(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie send:", err)
		return 2
	}
	c, err := sf.client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie send:", err)
		return 2
	}
	if c.TLS != nil && c.TLS.ServerName == "" {
		c.TLS.ServerName = strings.Split(addr, ":")[0]
	}
	files, skipped, failed := collectFiles(fs.Args()[1:])
	start := time.Now()
	counts := map[string]int{}
	nFail := len(failed)
	for p, err := range failed {
		fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
	}
	for _, batch := range dimse.PlanBatches(files) {
		a, err := c.Associate(context.Background(), addr, ae, dimse.ProposeFor(batch))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tweedie send: %s@%s: %v\n", ae, addr, err)
			counts["not sent: "+err.Error()] += len(batch)
			nFail += len(batch)
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
			counts[key]++
			if err != nil || msg.Classify(st) == msg.Failure {
				nFail++
				fmt.Fprintf(os.Stderr, "%s: %s %v\n", f.Path, key, errOrEmpty(err))
			} else if *verbose {
				fmt.Printf("%s: %s\n", f.Path, key)
			}
			if err != nil && !errors.Is(err, dimse.ErrNoContext) && !isStatus(err) {
				// The association is gone; the rest of the batch is not sent.
				counts["not sent: association ended"] += len(batch) - i - 1
				nFail += len(batch) - i - 1
				a = nil
				break
			}
		}
		if a != nil {
			_ = a.Release()
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("%d files to %s@%s in %.2f s (%.1f files/s)\n", len(files), ae, addr, el, float64(len(files))/max(el, 1e-9))
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %-50s %d\n", k, counts[k])
	}
	if len(skipped) > 0 {
		fmt.Printf("  %-50s %d\n", "skipped: not DICOM Part 10", len(skipped))
	}
	if len(failed) > 0 {
		fmt.Printf("  %-50s %d\n", "unreadable", len(failed))
	}
	if nFail > 0 {
		return 1
	}
	return 0
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
