package rules

import (
	"strings"
	"testing"
)

// keep is a discard that keeps the series for a while: it parses in both
// forms, combines like a discard, and says what it does.
func TestKeepAction(t *testing.T) {
	for _, fallback := range []string{"[{keep: {reason: not ours}}]", "[{keep: }]"} {
		s, err := ParseBytes([]byte("rules:\n  - name: mr\n    match: {Modality: {equals: MR}}\n    actions: [{forward: {destinations: [pacs]}}]\nfallback: " + fallback + "\n"))
		if err != nil {
			t.Fatalf("%s: %v", fallback, err)
		}
		d := s.Evaluate(MapSubject{"Modality": {"CT"}}, Association{})
		if !d.Fallback || !d.Discard() || !d.Actions[0].Keep || !strings.HasPrefix(d.Actions[0].String(), "keep") {
			t.Errorf("%s: decision %+v", fallback, d.Actions)
		}
		if d := s.Evaluate(MapSubject{"Modality": {"MR"}}, Association{}); d.Discard() {
			t.Errorf("%s: a matched rule's series is kept", fallback)
		}
	}
	if _, err := ParseBytes([]byte("rules: []\nfallback: [{keep: {reason: x}}, {forward: {destinations: [pacs]}}]\n")); err == nil {
		t.Error("keep combined with forward is accepted")
	}
	if _, err := ParseBytes([]byte("rules: []\nfallback: [{keep: {reasn: x}}]\n")); err == nil {
		t.Error("a misspelt field of keep is accepted")
	}
}
