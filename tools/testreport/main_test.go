package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealGoTest runs `go test -json` on a small module with a passing, a
// failing and a skipped test, a skipped subtest and a package that does not
// build, and checks what testreport makes of the real event stream.
func TestRealGoTest(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.21\n",
		"a/a_test.go": `package a

import "testing"

func TestPasses(t *testing.T) {}
func TestFails(t *testing.T) { t.Log("the detail"); t.Fatal("wrong answer") }
func TestSkips(t *testing.T) { t.Skip("needs a scanner") }
func TestSub(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) { t.Skipf("no %s here", "GPU") })
}
`,
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestBroken(t *testing.T) { undefined() }\n",
		"c/c.go":      "package c\n", // no test files
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "test", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
	raw, _ := cmd.Output() // fails, as it should
	if len(raw) == 0 {
		t.Fatal("go test -json wrote nothing")
	}

	log := filepath.Join(t.TempDir(), "events.json")
	var streamed bytes.Buffer
	failed, err := stream(bytes.NewReader(raw), &streamed, log, false)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("stream: a failing run reported as passing")
	}
	s := streamed.String()
	for _, want := range []string{
		"--- FAIL: TestFails (example.com/m/a",
		"wrong answer",
		"the detail",
		"FAIL example.com/m/a ",
		"FAIL example.com/m/b ",
		"undefined",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("streamed output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "=== RUN") {
		t.Errorf("test2json's framing lines in the streamed output:\n%s", s)
	}
	if strings.Contains(s, "example.com/m/c") {
		t.Errorf("a package without tests has a line:\n%s", s)
	}

	var sum bytes.Buffer
	failed, err = summarize(log, &sum)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("summary: a failing run reported as passing")
	}
	out := sum.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// TestPasses, TestSub/one pass; TestFails and the package b fail;
	// TestSkips and TestSub/two skip (TestSub itself passes).
	if last := lines[len(lines)-1]; last != "3 passed, 2 failed, 2 skipped" {
		t.Errorf("last line %q, want %q\n%s", last, "3 passed, 2 failed, 2 skipped", out)
	}
	for _, want := range []string{
		"example.com/m/a TestSkips: a_test.go:7: needs a scanner",
		"example.com/m/a TestSub/two: a_test.go:10: no GPU here",
		"example.com/m/a TestFails",
		"example.com/m/b (the package: build, panic or timeout)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestNameTests(t *testing.T) {
	events := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"FuzzDecode"}
{"Action":"output","Package":"p","Test":"FuzzDecode","Output":"fuzz: elapsed: 8s, execs: 1000 (125/sec), new interesting: 2 (total: 9)\n"}
{"Action":"pass","Package":"p","Test":"FuzzDecode","Elapsed":8.1}
{"Action":"pass","Package":"p","Elapsed":8.2}
`
	var w bytes.Buffer
	failed, err := stream(strings.NewReader(events), &w, "", true)
	if err != nil || failed {
		t.Fatalf("stream: failed=%v err=%v", failed, err)
	}
	want := "ok   p 8.2s FuzzDecode (8s, 1000 execs, 2 new interesting inputs)\n"
	if w.String() != want {
		t.Errorf("got  %q\nwant %q", w.String(), want)
	}
}
