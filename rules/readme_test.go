package rules

import (
	"os"
	"strings"
	"testing"
)

type fence struct{ lang, body string }

// readmeFences returns README.md's fenced blocks by the heading they sit
// under.
func readmeFences(t *testing.T) map[string][]fence {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]fence{}
	heading := ""
	var cur *fence
	for line := range strings.Lines(string(b)) {
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.HasPrefix(line, "```"):
			out[heading] = append(out[heading], *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	return out
}

// TestReadme keeps the documentation true: the full example parses and
// explains itself as the README says, and the broken example fails with
// the problems shown.
func TestReadme(t *testing.T) {
	f := readmeFences(t)
	ex := f["A full example"]
	if len(ex) != 1 || ex[0].lang != "yaml" {
		t.Fatalf("full example: %+v", ex)
	}
	s, err := ParseBytes([]byte(ex[0].body))
	if err != nil {
		t.Fatalf("the full example does not parse:\n%v", err)
	}
	ct := MapSubject{
		"Modality":          {"CT"},
		"ImageType":         {"ORIGINAL", "PRIMARY", "AXIAL"},
		"SliceThickness":    {"1.0"},
		"SeriesDescription": {"Thorax 1.0 B30f"},
	}
	explained := f["Explaining a decision"]
	if len(explained) != 1 {
		t.Fatalf("decision example: %+v", explained)
	}
	if got := s.Evaluate(ct, Association{CallingAE: "CT1", PeerAddr: "10.20.1.1:4000"}).String(); got != explained[0].body {
		t.Errorf("README shows\n%s\nEvaluate says\n%s", explained[0].body, got)
	}

	// The other claims of the example's prose.
	loc := MapSubject{"Modality": {"CT"}, "ImageType": {"ORIGINAL", "PRIMARY", "LOCALIZER"}, "SliceThickness": {"1.0"}}
	if d := s.Evaluate(loc, Association{}); !d.Discard() || len(d.Matched) != 1 || d.Matched[0].Rule != "drop-localizers" {
		t.Errorf("localizer:\n%s", d)
	}
	raw := MapSubject{
		"Modality":    {"MR"},
		"SOPClassUID": {"1.2.840.10008.5.1.4.1.1.66"},
		"(0077,1001)": {"x"},
	}
	d := s.Evaluate(raw, Association{CallingAE: "mr_prisma", PeerAddr: "192.168.7.12:1234"})
	if len(d.Matched) != 1 || d.Matched[0].Rule != "mr-raw-kspace" || len(d.Actions) != 1 || d.Actions[0].Kind != Reconstruct {
		t.Errorf("raw data:\n%s", d)
	}
	if d := s.Evaluate(raw, Association{CallingAE: "mr_prisma", PeerAddr: "192.168.7.13:1234"}); !d.Fallback {
		t.Errorf("raw data from another address:\n%s", d)
	}

	bad := f["Errors"]
	if len(bad) != 2 || bad[0].lang != "yaml" {
		t.Fatalf("errors example: %+v", bad)
	}
	_, err = ParseBytes([]byte(bad[0].body))
	if err == nil || err.Error()+"\n" != bad[1].body {
		t.Errorf("README shows\n%s\nParseBytes says\n%v", bad[1].body, err)
	}
}
