package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/dimse/scu"
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

// peer parses the destination argument and makes the client; on an error
// it has printed it.
func (f *scuFlags) peer(cmd, dest string) (c *dimse.Client, ae, addr string, ok bool) {
	ae, addr, err := scu.ParseDestination(dest)
	if err == nil {
		c = &dimse.Client{CallingAE: f.callingAE, DialTimeout: f.timeout, ARTIM: f.timeout, DIMSETimeout: f.timeout,
			Log: zerolog.New(os.Stderr).With().Timestamp().Logger().Level(zerolog.WarnLevel)}
		if f.tlsOn || f.tlsCA != "" || f.tlsCert != "" {
			c.TLS, err = scu.TLSConfig(f.tlsCA, f.tlsCert, f.tlsKey)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tweedie %s: %v\n", cmd, err)
		return nil, "", "", false
	}
	return c, ae, addr, true
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
	c, ae, addr, ok := sf.peer("echo", fs.Arg(0))
	if !ok {
		return 2
	}
	start := time.Now()
	st, err := scu.Echo(context.Background(), c, ae, addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tweedie echo: %s@%s: %v\n", ae, addr, err)
		return 1
	}
	fmt.Printf("C-ECHO %s@%s: %s in %.1f ms\n", ae, addr, msg.StatusString(st), float64(time.Since(start).Microseconds())/1000)
	if st != msg.StatusSuccess {
		return 1
	}
	return 0
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
	c, ae, addr, ok := sf.peer("send", fs.Arg(0))
	if !ok {
		return 2
	}
	s := scu.Sender{Client: c, CalledAE: ae, Addr: addr, Err: os.Stderr, Out: os.Stdout, Verbose: *verbose, Prefix: "tweedie send: "}
	r := s.Send(context.Background(), fs.Args()[1:])
	r.Print(os.Stdout, ae, addr)
	if r.Failed > 0 {
		return 1
	}
	return 0
}
