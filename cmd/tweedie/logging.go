package main

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/tweedie-recon/tweedie/conf"
)

func init() {
	// Durations carry their unit, in every logger of the binary and in
	// both formats: took=17.7s, "took":"17.7s" (time.Duration's String),
	// never a bare number of milliseconds.
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
}

// newLogger is the operational log: log.format console (human lines,
// coloured only when w is a terminal, so redirected output and journald
// carry no escape codes) or json (one object per line, for journald and
// log shippers).
func newLogger(c conf.LogConfig, w io.Writer) zerolog.Logger {
	if c.Format != "json" {
		w = consoleWriter(w, time.RFC3339)
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).With().Timestamp().Logger().Level(lvl)
}

// consoleWriter writes human-readable lines, in colour only on a terminal.
func consoleWriter(w io.Writer, timeFormat string) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: timeFormat, NoColor: !isTerminal(w)}
}

// isTerminal reports whether w is a file open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
