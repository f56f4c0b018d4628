// Command testreport turns `go test -json` into what scripts/test.sh
// prints: one line per package as it finishes, the whole output of each
// failing test, and at the end every skipped test by name with its reason
// and one line `N passed, N failed, N skipped`.
//
//	go test -json ./... | testreport -log FILE          # stream, and append the events to FILE
//	go test -json -run '^$' -fuzz X ./p | testreport -log FILE -name-tests
//	testreport -summary FILE                            # the skipped and failed tests, the counts
//
// Counts are over every test that reported a result, subtests included (a
// skipped subtest is a check that did not run); fuzz targets count as
// tests. A package that fails to build, or fails outside any test (a panic
// in TestMain, a timeout), counts as one failure under its own name.
// testreport exits 1 when anything failed, 2 on a usage or I/O error.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time        time.Time `json:",omitempty"`
	Action      string
	Package     string  `json:",omitempty"`
	ImportPath  string  `json:",omitempty"`
	Test        string  `json:",omitempty"`
	Elapsed     float64 `json:",omitempty"`
	Output      string  `json:",omitempty"`
	FailedBuild string  `json:",omitempty"`
}

func main() {
	logPath := flag.String("log", "", "append the events read to this file (for -summary)")
	nameTests := flag.Bool("name-tests", false, "name the top-level tests that ran on each package's line (for fuzz runs)")
	summary := flag.String("summary", "", "print the summary of the events in this file instead of reading standard input")
	flag.Parse()
	var err error
	var failed bool
	if *summary != "" {
		failed, err = summarize(*summary, os.Stdout)
	} else {
		failed, err = stream(os.Stdin, os.Stdout, *logPath, *nameTests)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// result is what one test or package reported.
type result struct {
	pkg, test string
	action    string // pass, fail, skip
	elapsed   float64
	output    []string
}

// tally follows a stream of events.
type tally struct {
	out      map[string][]string // output so far, by package + "\x00" + test
	results  []result            // in the order they finished
	tests    map[string][]string // top-level tests that ran, by package
	fuzzLine map[string]string   // the last "fuzz: elapsed" line, by package
}

func newTally() *tally {
	return &tally{out: map[string][]string{}, tests: map[string][]string{}, fuzzLine: map[string]string{}}
}

func key(pkg, test string) string { return pkg + "\x00" + test }

// add takes one event and returns the result it completes, if any.
func (t *tally) add(e event) *result {
	pkg := e.Package
	if pkg == "" {
		pkg = e.ImportPath
	}
	switch e.Action {
	case "output", "build-output":
		k := key(pkg, e.Test)
		t.out[k] = append(t.out[k], e.Output)
		if strings.HasPrefix(e.Output, "fuzz: elapsed:") {
			t.fuzzLine[pkg] = strings.TrimSpace(e.Output)
		}
	case "run":
		if e.Test != "" && !strings.Contains(e.Test, "/") {
			t.tests[pkg] = append(t.tests[pkg], e.Test)
		}
	case "pass", "fail", "skip":
		k := key(pkg, e.Test)
		r := result{pkg: pkg, test: e.Test, action: e.Action, elapsed: e.Elapsed, output: t.out[k]}
		if e.Action == "fail" && e.Test == "" && e.FailedBuild != "" {
			r.output = append(r.output, t.out[key(e.FailedBuild, "")]...)
		}
		delete(t.out, k)
		t.results = append(t.results, r)
		return &t.results[len(t.results)-1]
	}
	return nil
}

// stream prints each package's line as it finishes and each failing test's
// output, and appends the events to logPath.
func stream(in io.Reader, w io.Writer, logPath string, nameTests bool) (failed bool, err error) {
	var log *os.File
	if logPath != "" {
		if log, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return false, err
		}
		defer log.Close()
	}
	t := newTally()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event: go vet, a linker message. Pass it on.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		if log != nil {
			if _, err := fmt.Fprintf(log, "%s\n", line); err != nil {
				return failed, err
			}
		}
		r := t.add(e)
		if r == nil {
			continue
		}
		switch {
		case r.test != "" && r.action == "fail":
			failed = true
			fmt.Fprintf(w, "--- FAIL: %s (%s, %.2fs)\n", r.test, r.pkg, r.elapsed)
			for _, o := range r.output {
				if !framing(o) {
					fmt.Fprint(w, o)
				}
			}
		case r.test == "":
			if r.action == "fail" {
				failed = true
			}
			printPackage(w, t, r, nameTests)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	return failed, nil
}

// printPackage writes a package's line: ok, FAIL (with the output that
// belongs to no test: build errors, panics, timeouts), or nothing for a
// package without tests.
func printPackage(w io.Writer, t *tally, r *result, nameTests bool) {
	if r.action == "skip" {
		return // no test files
	}
	label := "ok  "
	if r.action == "fail" {
		label = "FAIL"
		for _, o := range r.output {
			if !strings.HasPrefix(o, "FAIL") && !strings.HasPrefix(o, "ok ") && o != "PASS\n" {
				fmt.Fprint(w, o)
			}
		}
	}
	line := fmt.Sprintf("%s %s %.1fs", label, r.pkg, r.elapsed)
	if nameTests {
		if names := t.tests[r.pkg]; len(names) > 0 {
			line += " " + strings.Join(names, " ")
		}
		if f := t.fuzzLine[r.pkg]; f != "" {
			line += " (" + fuzzStats(f) + ")"
		}
	}
	fmt.Fprintln(w, line)
}

// summarize reads the events in path and prints the skipped tests with
// their reasons, the failed ones, and the counts.
func summarize(path string, w io.Writer) (failed bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	t := newTally()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			t.add(e)
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	var passed, skipped, failures []result
	for _, r := range t.results {
		switch {
		case r.test == "" && r.action == "fail":
			// A package that failed outside its tests: a build failure, a
			// panic or a timeout. When a test failed, that test is counted.
			if !anyFailed(t.results, r.pkg) {
				failures = append(failures, r)
			}
		case r.test == "":
		case r.action == "pass":
			passed = append(passed, r)
		case r.action == "fail":
			failures = append(failures, r)
		case r.action == "skip":
			skipped = append(skipped, r)
		}
	}
	byName := func(rs []result) {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].pkg != rs[j].pkg {
				return rs[i].pkg < rs[j].pkg
			}
			return rs[i].test < rs[j].test
		})
	}
	byName(skipped)
	byName(failures)
	if len(skipped) > 0 {
		fmt.Fprintf(w, "SKIPPED (%d): these checks did not run\n", len(skipped))
		for _, r := range skipped {
			fmt.Fprintf(w, "  %s %s: %s\n", r.pkg, r.test, skipReason(r.output))
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(w, "FAILED (%d):\n", len(failures))
		for _, r := range failures {
			name := r.test
			if name == "" {
				name = "(the package: build, panic or timeout)"
			}
			fmt.Fprintf(w, "  %s %s\n", r.pkg, name)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", len(passed), len(failures), len(skipped))
	return len(failures) > 0, nil
}

func anyFailed(rs []result, pkg string) bool {
	for _, r := range rs {
		if r.pkg == pkg && r.test != "" && r.action == "fail" {
			return true
		}
	}
	return false
}

// framing reports test2json's own lines (=== RUN, --- FAIL: …), which the
// report replaces with its header.
func framing(o string) bool {
	s := strings.TrimSpace(o)
	return strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- FAIL:") || strings.HasPrefix(s, "--- PASS:") || strings.HasPrefix(s, "--- SKIP:")
}

// fuzzStats shortens the fuzzer's last status line to the totals:
// "fuzz: elapsed: 8s, execs: 1000 (125/sec), new interesting: 2 (total: 9)"
// becomes "8s, 1000 execs, 2 new interesting inputs".
func fuzzStats(line string) string {
	var el, execs, fresh string
	for _, part := range strings.Split(strings.TrimPrefix(line, "fuzz: "), ", ") {
		k, v, _ := strings.Cut(part, ": ")
		v, _, _ = strings.Cut(v, " ")
		switch k {
		case "elapsed":
			el = v
		case "execs":
			execs = v
		case "new interesting":
			fresh = v
		}
	}
	if execs == "" {
		return line
	}
	return fmt.Sprintf("%s, %s execs, %s new interesting inputs", el, execs, fresh)
}

// skipReason is what a skipped test said (t.Skip's message), without the
// framing lines test2json adds.
func skipReason(output []string) string {
	var parts []string
	for _, o := range output {
		s := strings.TrimSpace(o)
		if s == "" || strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- SKIP") {
			continue
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, "; ")
}
