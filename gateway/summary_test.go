package gateway

import (
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/conf"
)

// TestSummaryLines: for a node not started, the summary shows the
// configured listener (on every interface for 0.0.0.0), the embedded
// routing, and the reconstruction lines it is given between the
// destinations and the audit trail.
func TestSummaryLines(t *testing.T) {
	cfg := conf.Default()
	cfg.Node.Listen = "0.0.0.0:11112"
	got := SummaryLines(cfg, "", nil, []string{"reconstruct  R", "device       D"})
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"configuration: embedded defaults",
		"  DICOM        TWEEDIE@0.0.0.0:11112 (no TLS), on every interface",
		"  routing      embedded (conf/defaults.yaml); rules in order:",
		"  destinations folder: folder ",
		"\n  reconstruct  R\n  device       D\n  audit ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	if got[len(got)-1] != "  log          standard error (journald under systemd), format console, level info" {
		t.Errorf("last line %q", got[len(got)-1])
	}
}
