package gateway

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeJob feeds arbitrary bytes to the job decoder, the way a worker
// reads every message of the job subject: no panic, and a job it accepts
// names only paths inside the folders they are joined to (work, batches,
// quarantine, the object store's "<batch>/<name>"), and encodes back to
// the same job.
func FuzzDecodeJob(f *testing.F) {
	good := Job{ID: "1.2.3-g1-a0", Batch: "1.2.3-g1", Kind: "reconstruct", Reconstructor: "dds",
		Params: map[string]string{"budget": "8s"}, Destinations: []string{"pacs"}, Rule: "mr",
		StudyUID: "1.2", SeriesUID: "1.2.3", Inputs: []string{"1.2.3.4.dcm"}}
	b, _ := json.Marshal(good)
	f.Add(b)
	f.Add([]byte(`{"id":"..","batch":"..","kind":"forward","study_uid":"1","series_uid":"1","inputs":["1.dcm"]}`))
	f.Add([]byte(`{"id":"1-g1-a0","batch":"../x","kind":"forward","study_uid":"1","series_uid":"1","inputs":["1.dcm"]}`))
	f.Add([]byte(`{"id":"1-g1-a0","batch":"1-g1","kind":"forward","study_uid":"1","series_uid":"1","inputs":["1.dcm"],"id":".."}`))
	root := filepath.FromSlash("/state")
	inside := func(t *testing.T, dir, name string) {
		p := filepath.Join(dir, name)
		if filepath.Dir(p) != dir || filepath.Base(p) != name {
			t.Fatalf("%q leaves %s (%s)", name, dir, p)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJob(data)
		if err != nil {
			return
		}
		inside(t, filepath.Join(root, "work"), j.ID)
		inside(t, filepath.Join(root, "quarantine"), j.ID)
		inside(t, filepath.Join(root, "batches"), j.Batch)
		for _, n := range j.Inputs {
			inside(t, filepath.Join(root, "batches", j.Batch), n)
			if strings.Count(j.Batch+"/"+n, "/") != 1 {
				t.Fatalf("object name %s/%s", j.Batch, n)
			}
		}
		for _, d := range j.Destinations {
			inside(t, filepath.Join(root, "outbox"), d)
		}
		if b, ok := ValidJobID(j.ID); !ok || b != j.Batch {
			t.Fatalf("id %q accepted but not a job ID of batch %q", j.ID, j.Batch)
		}
		again, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		j2, err := DecodeJob(again)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
		if again2, _ := json.Marshal(j2); !bytes.Equal(again, again2) {
			t.Fatalf("round trip:\n%s\n%s", again, again2)
		}
	})
}
