package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/internal/peers"
)

// TestJournalReplayKeepsSeriesFolder: the C-STORE path files every
// instance of a series in the series' one folder, under the study of its
// first instance, even one that claims another study. A replay of the
// journal after a crash must write each record there too, not into a
// folder of the study the instance names (a second folder of the same
// series, which recovery would then lose: one open series per UID).
// First through the C-STORE path (the record it writes), then with a
// crafted record naming the other study, as an older journal did.
func TestJournalReplayKeepsSeriesFolder(t *testing.T) {
	const studyA, studyB, series = "2.25.6101", "2.25.6102", "2.25.6103"
	for _, crafted := range []bool{false, true} {
		state, src := t.TempDir(), t.TempDir()
		first := writeSeries(t, src, studyA, series, 1, 64)[0]
		other := filepath.Join(src, "other.dcm")
		if err := peers.WriteMR(other, studyB, series, series+".2", 2, 64, 64); err != nil {
			t.Fatal(err)
		}
		s := newJournalSpool(t, state)
		if _, st := storeFile(t, s, first); st != msg.StatusSuccess {
			t.Fatalf("status %#x", st)
		}
		s.writeOut()
		if crafted {
			b, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			jw := s.j.begin()
			if jw == nil || !jw.write(b) {
				t.Fatal("no journal record")
			}
			if err := jw.commit(studyB, series, series+".2", 1); err != nil {
				t.Fatal(err)
			}
		} else if _, st := storeFile(t, s, other); st != msg.StatusSuccess {
			t.Fatalf("status %#x", st)
		}
		folder := filepath.Join(state, "spool", studyA, series)
		if !crafted && fileExists(filepath.Join(folder, series+".2.dcm")) {
			t.Fatal("the spool file was written on the C-STORE's path")
		}
		// The crash: the second spool file was never written.
		s.j.close()
		s2 := newJournalSpool(t, state)
		if !fileExists(filepath.Join(folder, series+".2.dcm")) || fileExists(filepath.Join(state, "spool", studyB)) {
			m, _ := filepath.Glob(filepath.Join(state, "spool", "*", "*", "*.dcm"))
			t.Errorf("crafted=%v: after replay the instance is not in its series' folder: %v", crafted, m)
		}
		if ser := s2.open[series]; ser == nil || len(ser.instances) != 2 {
			t.Errorf("crafted=%v: the recovered series lacks instances: %+v", crafted, ser)
		}
		s2.j.close()
	}
}
