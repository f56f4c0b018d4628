package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// The quality the diffusion reconstructions of the demo studies reach
// through the whole path, as recorded in docs/benchmarks.md (end to end)
// and docs/results.md: MR 31.1 dB, CT 25.6 dB with the shipped priors. Each
// job draws a new seed (logged), so the bounds keep a 1 dB margin.
const (
	e2eMinMRPSNR = 30.0 // 4×, 8 coils: zero-filled 22.5 dB
	e2eMinCTPSNR = 24.5 // 16 views: FBP 16.2 dB
)

// TestEndToEndDiffusion is the mission in one test: storescu sends the
// demo's undersampled MR study and sparse-view CT study to `tweedie serve`
// on its embedded routing; dds reconstructs both on the CPU with the
// shipped priors; Orthanc receives a derived series in each study, with the
// geometry of the raw data; what Orthanc holds, scored against the images
// the raw data were simulated from, reaches the recorded quality.
func TestEndToEndDiffusion(t *testing.T) {
	peers.Need(t, "storescu", "Orthanc")
	if testing.Short() {
		t.Skip("runs dds on the CPU")
	}
	demo := filepath.Join("..", "..", "testdata", "demo")
	mrFiles, _ := filepath.Glob(filepath.Join(demo, "mr", "*.dcm"))
	ctFiles, _ := filepath.Glob(filepath.Join(demo, "ct", "*.dcm"))
	if len(mrFiles) != 4 || len(ctFiles) != 1 {
		t.Fatalf("demo data: %d MR and %d CT files", len(mrFiles), len(ctFiles))
	}
	mr, err := rawdata.ReadMR(mrFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rawdata.ReadCT(ctFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	o := peers.StartOrthanc(t, nil)
	port := peers.FreePort(t)
	state := t.TempDir()
	// No routing section: the embedded rules decide.
	cfg := writeConfig(t, fmt.Sprintf(`node:
  listen: 127.0.0.1:%d
  state_dir: %s
http:
  listen: ""
destinations:
  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}
`, port, state, o.DICOMPort))
	var logs lockedBuffer
	serve := startServe(t, cfg, port, &logs)
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	start := time.Now()
	if out, err := storescuCmd(port, append(mrFiles, ctFiles...)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	sent := time.Now()
	waitUntil(t, 10*time.Minute, "5 reconstructed images in Orthanc", func() bool {
		if fs, _ := filepath.Glob(filepath.Join(state, "quarantine", "*")); len(fs) > 0 {
			t.Fatalf("a job was quarantined: %v", fs)
		}
		return orthancInstances(t, o) >= 5
	})
	t.Logf("sent in %v; the last image reached Orthanc %v after the last instance was received",
		sent.Sub(start).Round(time.Millisecond), time.Since(sent).Round(time.Second))

	// Fetch what Orthanc holds, study by study.
	byStudy := map[string]string{}
	var ids []string
	o.Get(t, "/instances", &ids)
	for _, id := range ids {
		var tags map[string]string
		o.Get(t, "/instances/"+id+"/simplified-tags", &tags)
		if byStudy[tags["StudyInstanceUID"]] == "" {
			byStudy[tags["StudyInstanceUID"]] = t.TempDir()
		}
		if err := os.MkdirAll(filepath.Join(byStudy[tags["StudyInstanceUID"]], tags["Modality"]), 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(byStudy[tags["StudyInstanceUID"]], tags["Modality"], tags["SOPInstanceUID"]+".dcm")
		if err := os.WriteFile(p, o.Get(t, "/instances/"+id+"/file", nil), 0o600); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(tags["ImageType"], "DERIVED") || !strings.Contains(tags["SeriesDescription"], "dds") {
			t.Errorf("instance %s: ImageType %q, SeriesDescription %q", id, tags["ImageType"], tags["SeriesDescription"])
		}
		switch tags["Modality"] {
		case "MR":
			if tags["StudyInstanceUID"] != mr.StudyInstanceUID || tags["ImageOrientationPatient"] != `1\0\0\0\0\-1` || tags["PixelSpacing"] != `2\2` {
				t.Errorf("MR image not in the raw data's study and geometry: %v", tags)
			}
		case "CT":
			if tags["StudyInstanceUID"] != ct.StudyInstanceUID || tags["Rows"] != "256" {
				t.Errorf("CT image not in the raw data's study and geometry: %v", tags)
			}
		}
	}
	score := func(ref, dir string, extra ...string) float64 {
		out := mustRun(t, append(append([]string{"eval"}, extra...), "--ref", ref, "--test", dir)...)
		var r struct{ PSNR, SSIM float64 }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: PSNR %.2f dB, SSIM %.4f", filepath.Base(dir), r.PSNR, r.SSIM)
		return r.PSNR
	}
	if p := score(filepath.Join(demo, "mr-reference.npy"), filepath.Join(byStudy[mr.StudyInstanceUID], "MR")); p < e2eMinMRPSNR {
		t.Errorf("MR from Orthanc: %.2f dB, below %.1f dB", p, e2eMinMRPSNR)
	}
	if p := score(filepath.Join(demo, "ct-reference.npy"), filepath.Join(byStudy[ct.StudyInstanceUID], "CT"), "--ct"); p < e2eMinCTPSNR {
		t.Errorf("CT from Orthanc: %.2f dB, below %.1f dB", p, e2eMinCTPSNR)
	}
	var files []string
	for _, d := range byStudy {
		fs, _ := filepath.Glob(filepath.Join(d, "*", "*.dcm"))
		files = append(files, fs...)
	}
	dciodvfyClean(t, files)
	for _, f := range files {
		if _, err := dimse.ReadFileInfo(f); err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkEndToEndLatency measures, for the demo's MR study (4 slices,
// 128², 8 coils) and CT study (1 slice, 256², 16 views) sent one after the
// other, the time from the last instance received (storescu done) to the
// reconstructed series stored in Orthanc, and the CPU time and peak
// resident memory of `tweedie serve` over the run:
//
//	go test ./cmd/tweedie -run '^$' -bench EndToEndLatency -benchtime 1x
func BenchmarkEndToEndLatency(b *testing.B) {
	peers.Need(b, "storescu", "Orthanc")
	demo := filepath.Join("..", "..", "testdata", "demo")
	mrFiles, _ := filepath.Glob(filepath.Join(demo, "mr", "*.dcm"))
	ctFiles, _ := filepath.Glob(filepath.Join(demo, "ct", "*.dcm"))
	for i := 0; i < b.N; i++ {
		o := peers.StartOrthanc(b, nil)
		port := peers.FreePort(b)
		cfgPath := filepath.Join(b.TempDir(), "bench.yaml")
		os.WriteFile(cfgPath, []byte(fmt.Sprintf("node:\n  listen: 127.0.0.1:%d\n  state_dir: %s\nhttp:\n  listen: \"\"\nlog:\n  level: warn\ndestinations:\n  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: %d}\n",
			port, b.TempDir(), o.DICOMPort)), 0o600)
		serve, stop := startProc(b, binary, "serve", "--config", cfgPath)
		_ = serve
		peers.WaitPort(b, port, 20*time.Second)
		count := func() int {
			var ids []string
			o.Get(b, "/instances", &ids)
			return len(ids)
		}
		run := func(files []string, want int) time.Duration {
			if out, err := storescuCmd(port, files...).CombinedOutput(); err != nil {
				b.Fatalf("storescu: %v\n%s", err, out)
			}
			t0 := time.Now()
			for count() < want {
				if time.Since(t0) > 10*time.Minute {
					b.Fatal("timed out")
				}
				time.Sleep(100 * time.Millisecond)
			}
			return time.Since(t0)
		}
		t0 := time.Now()
		mr := run(mrFiles, 4)
		ct := run(ctFiles, 5)
		wall := time.Since(t0)
		rss := stop()
		ru := serve.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(mr.Seconds(), "s_MR_volume_4_slices")
		b.ReportMetric(mr.Seconds()/4, "s_MR_per_slice")
		b.ReportMetric(ct.Seconds(), "s_CT_slice")
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores_busy")
		b.ReportMetric(float64(rss)/(1<<20), "MiB_peak_RSS")
	}
}
