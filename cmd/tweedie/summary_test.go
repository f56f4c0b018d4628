package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/peers"
)

// serveStderr starts the real `tweedie serve` with args and returns the
// lines it writes to standard error up to the one that matches last (or
// fails after 30 s).
func serveStderr(t *testing.T, last *regexp.Regexp, args ...string) []string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before the summary:\n%s", strings.Join(got, "\n"))
			}
			got = append(got, l)
			if last.MatchString(l) {
				go func() { // keep draining so serve never blocks on stderr
					for range lines {
					}
				}()
				return got
			}
		case <-timeout:
			t.Fatalf("no summary in 30 s:\n%s", strings.Join(got, "\n"))
		}
	}
}

// wantLines checks that each pattern matches some line.
func wantLines(t *testing.T, got []string, patterns ...string) {
	t.Helper()
	text := strings.Join(got, "\n")
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(text) {
			t.Errorf("no line matches %q in:\n%s", p, text)
		}
	}
}

// TestServeSummaryDefaults: on the embedded defaults, serve says where it
// listens and as whom, that any peer is accepted, its HTTP endpoints, the
// absolute state folder, the embedded routing rule by rule with the
// fallback, the folder destination, the reconstructors with their models
// and device, and where the audit trail and the log go.
func TestServeSummaryDefaults(t *testing.T) {
	port := peers.FreePort(t)
	state := filepath.Join(t.TempDir(), "state")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, state) // a relative --state is shown absolute
	if err != nil {
		t.Fatal(err)
	}
	got := serveStderr(t, regexp.MustCompile(`^  log `), "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state", rel)
	abs, _ := filepath.Abs(state)
	q := regexp.QuoteMeta
	wantLines(t, got,
		`^tweedie serve: what this node does \(configuration: embedded defaults`,
		fmt.Sprintf(`^  DICOM +TWEEDIE@127\.0\.0\.1:%d \(no TLS\)$`, port),
		`^  accepts +any peer \(called AE title must be TWEEDIE`,
		`^  HTTP +http://127\.0\.0\.1:\d+/metrics \(Prometheus\), http://127\.0\.0\.1:\d+/healthz$`,
		`^  state +`+q(abs)+` `,
		`^  routing +embedded \(conf/defaults\.yaml\); rules in order:$`,
		`^ +1\. mr-kspace .*MR_KSPACE.* → .*reconstructor: dds.*destinations: \[folder\]`,
		`^ +2\. ct-sinogram-volume .*reconstructor: mbir`,
		`^ +otherwise \(fallback\): `,
		`^  destinations folder: folder `+q(filepath.Join(abs, "outgoing"))+`$`,
		`^  reconstruct +MR: .*l1-wavelet.*; CT: .*fbp.*; MR and CT: .*dds`,
		`^  score models MR tweedie_mr_unet .*CT tweedie_ct_unet`,
		`^  device +(CPU|CUDA|none)`,
		`^  audit +`+q(filepath.Join(abs, "audit.log"))+` .*patient names and IDs left out`,
		`^  log +standard error .*format console, level info$`,
	)
}

// TestServeSummaryFile: from a file, the summary names the file, the
// allowlists, the file's rules in order and its fallback, each destination
// with its address or folder; in the json format it is one JSON record.
func TestServeSummaryFile(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	cfgPath := filepath.Join(dir, "tweedie.yaml")
	cfg := fmt.Sprintf(`node:
  ae_title: RECON1
  listen: 127.0.0.1:%d
  state_dir: %s
  allowed_calling_aes: [CT01, MR01]
  allowed_networks: [10.1.0.0/16]
http:
  listen: ""
audit:
  path: %s
destinations:
  - name: pacs
    ae_title: ORTHANC
    host: pacs.example.org
    port: 4242
  - name: archive
    type: folder
    path: %s
routing:
  rules:
    - name: knee
      match: {Modality: {equals: MR}}
      actions: [{forward: {destinations: [pacs]}}]
      stop: true
    - name: localizers
      match: {SeriesDescription: {regex: "(?i)localizer"}}
      actions: [{discard: {reason: localizer}}]
  fallback:
    - forward: {destinations: [archive]}
`, peers.FreePort(t), filepath.Join(dir, "state"), filepath.Join(dir, "audit.jsonl"), archive)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	got := serveStderr(t, regexp.MustCompile(`^  log `), "--config", cfgPath)
	q := regexp.QuoteMeta
	wantLines(t, got,
		`^tweedie serve: what this node does \(configuration: `+q(cfgPath)+`\)$`,
		`^  DICOM +RECON1@127\.0\.0\.1:\d+ \(no TLS\)$`,
		`^  accepts +calling AE in CT01, MR01, from 10\.1\.0\.0/16 \(called AE title must be RECON1\)$`,
		`^  HTTP +off `,
		`^  routing +from `+q(cfgPath)+`; rules in order:$`,
		`^ +1\. knee: when \{Modality: \{equals: MR\}\} → \[\{forward: \{destinations: \[pacs\]\}\}\], then stop$`,
		`^ +2\. localizers: when .*localizer.* → \[\{discard: \{reason: localizer\}\}\]$`,
		`^ +otherwise \(fallback\): \[\{forward: \{destinations: \[archive\]\}\}\]$`,
		`^  destinations pacs: DICOM ORTHANC@pacs\.example\.org:4242 \(calling AE RECON1\)$`,
		`^ +archive: folder `+q(archive)+`$`,
		`^  audit +`+q(filepath.Join(dir, "audit.jsonl"))+` `,
	)
	// The order of the rules is the file's.
	if i, j := indexOf(got, "1. knee"), indexOf(got, "2. localizers"); i < 0 || j < i {
		t.Errorf("rules out of order:\n%s", strings.Join(got, "\n"))
	}

	// log.format json: the summary is one record of the JSON stream.
	jsonCfg := strings.Replace(cfg, "http:\n", "log:\n  format: json\nhttp:\n", 1)
	jsonCfg = strings.Replace(jsonCfg, filepath.Join(dir, "state"), filepath.Join(dir, "state2"), 1)
	jsonCfg = regexp.MustCompile(`listen: 127\.0\.0\.1:\d+`).ReplaceAllString(jsonCfg, fmt.Sprintf("listen: 127.0.0.1:%d", peers.FreePort(t)))
	jsonPath := filepath.Join(dir, "json.yaml")
	if err := os.WriteFile(jsonPath, []byte(jsonCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	got = serveStderr(t, regexp.MustCompile(`"what this node does"`), "--config", jsonPath)
	for _, l := range got {
		var rec struct {
			Message string   `json:"message"`
			Summary []string `json:"summary"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON in the json format: %q", l)
		}
		if rec.Message == "what this node does" {
			wantLines(t, rec.Summary, `^  DICOM +RECON1@`, `^  destinations pacs: DICOM ORTHANC@pacs\.example\.org:4242`,
				`^  log +standard error .*format json`)
		}
	}
}

func indexOf(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}
