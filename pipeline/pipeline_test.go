package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/internal/shareddata"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// demoMR returns the demo's raw MR k-space study: four Raw Data Storage
// instances, one slice each, 8 coils, 128×128, 4× undersampled.
func demoMR(t *testing.T) []string {
	t.Helper()
	root, err := shareddata.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "demo", "mr", "*.dcm"))
	if len(files) != 4 {
		t.Fatalf("testdata/demo/mr holds %d instances, want 4", len(files))
	}
	return files
}

// TestLoadAndWriteSeries: the demo's four instances are one acquisition;
// zero-filled reconstructs it; the derived series lands in the study of the
// raw data with UIDs that depend on the salt and nothing else.
func TestLoadAndWriteSeries(t *testing.T) {
	files := demoMR(t)
	acqs, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(acqs) != 1 || acqs[0].Input.MR == nil || acqs[0].Input.MR.Slices != 4 || acqs[0].Input.MR.Coils != 8 {
		t.Fatalf("acquisitions %+v", acqs)
	}
	r := Runner{Name: "zero-filled"}
	dir := t.TempDir()
	job := gateway.Job{ID: "b1-a0"}
	a, err := r.Run(context.Background(), job, files, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Run(context.Background(), job, files, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Run(context.Background(), gateway.Job{ID: "b2-a0"}, files, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 4 || filepath.Base(a[0]) != filepath.Base(b[0]) || filepath.Base(a[0]) == filepath.Base(c[0]) {
		t.Errorf("outputs %v, the same job again %v, another job %v", a, b, c)
	}
	// not raw data: a permanent failure, not a retry
	if _, err := r.Run(context.Background(), job, a[:1], t.TempDir()); err == nil {
		t.Error("an image series was reconstructed")
	} else if pe := (*gateway.PermanentError)(nil); !errors.As(err, &pe) {
		t.Errorf("not raw data: %v is not permanent", err)
	}
}

// TestGatewayReconstructsRawData: raw MR k-space (four instances declaring
// their count) goes by DCMTK's storescu to an in-process gateway node whose
// rule sends MR raw data to cg-sense; the folder destination receives a
// derived MR series of four images in the study of the raw data, with the
// geometry of the input. (The same path as `tweedie serve`, without a
// process in between.)
func TestGatewayReconstructsRawData(t *testing.T) {
	peers.Need(t, "storescu")
	files := demoMR(t)
	k, err := rawdata.ReadMR(files[0])
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cfgText := fmt.Sprintf(`node:
  listen: 127.0.0.1:0
  state_dir: %s
series:
  timeout: 1m
http:
  listen: ""
spool:
  min_free: 0
routing:
  rules:
    - name: mr-raw
      match:
        all:
          - SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.66}
          - "(0077,1001)": {equals: MR_KSPACE}
      actions: [{reconstruct: {reconstructor: cg-sense, params: {lambda: "0.01"}, destinations: [folder]}}]
  fallback: [{discard: {}}]
`, state)
	logs := startAndSend(t, cfgText, Runners(nil), files)
	outgoing := filepath.Join(state, "outgoing")
	deadline := time.Now().Add(90 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got, _ = filepath.Glob(filepath.Join(outgoing, "*", "*.dcm"))
		if len(got) == 0 {
			got, _ = filepath.Glob(filepath.Join(outgoing, "*.dcm"))
		}
		if len(got) >= 4 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(got) != 4 {
		t.Fatalf("%d derived images in %s after 90 s, want 4\nlog:\n%s", len(got), outgoing, logs.String())
	}
	for _, p := range got {
		ds, err := dicom.ParseFile(p, nil, dicom.SkipPixelData())
		if err != nil {
			t.Fatal(err)
		}
		str := func(tg tag.Tag) string {
			e, err := ds.FindElementByTag(tg)
			if err != nil {
				return ""
			}
			return strings.Join(e.Value.GetValue().([]string), `\`)
		}
		if str(tag.StudyInstanceUID) != k.StudyInstanceUID || str(tag.Modality) != "MR" || !strings.Contains(str(tag.ImageType), "DERIVED") ||
			!strings.Contains(str(tag.SeriesDescription), "cg-sense") || str(tag.ImageOrientationPatient) != `1\0\0\0\0\-1` {
			t.Errorf("%s: study %s modality %s type %s description %q orientation %s", filepath.Base(p), str(tag.StudyInstanceUID),
				str(tag.Modality), str(tag.ImageType), str(tag.SeriesDescription), str(tag.ImageOrientationPatient))
		}
	}
	if _, err := os.Stat(filepath.Join(state, "quarantine")); err == nil {
		if q, _ := os.ReadDir(filepath.Join(state, "quarantine")); len(q) > 0 {
			t.Errorf("quarantined jobs: %v", q)
		}
	}
}

// startAndSend starts an in-process gateway node on cfgText with the
// runners and sends the files to it with DCMTK's storescu; it returns the
// node's log.
func startAndSend(t *testing.T, cfgText string, runners map[string]gateway.Runner, files []string) *syncWriter {
	t.Helper()
	cfg, err := conf.Parse([]byte(cfgText), "test.yaml", gateway.ConfigCheck(runners))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{b: &strings.Builder{}}
	n, err := gateway.New(gateway.Options{Config: cfg, Log: zerolog.New(logs), Runners: runners, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	addr := n.Addr().String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	args := append([]string{"-aec", cfg.Node.AETitle, "127.0.0.1", port}, files...)
	if out, err := exec.Command("storescu", args...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	return logs
}

// syncWriter serialises the node's log writes.
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
