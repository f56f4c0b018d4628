package rules

import (
	"errors"
	"testing"
)

// FuzzParseBytes: rule files come from administrators; whatever they hold,
// parsing must not panic or hang, must return a Set or a *ParseError with
// at least one problem, and a Set must evaluate.
func FuzzParseBytes(f *testing.F) {
	f.Add([]byte(flow))
	f.Add([]byte(fb))
	f.Add([]byte("rules:\n  - name: a\n    match: {not: {any: [{peer_address: {cidr: [10.0.0.0/8]}}, {ImageType: {regex: '^O', all_values: true}}]}}\n    actions: [{reconstruct: {reconstructor: r, params: {a: 1}, destinations: [d]}}]\n" + fb))
	f.Add([]byte("rules:\n  - name: a\n    match: &m {not: *m}\n    actions: [{discard: {}}]\n" + fb))
	f.Add([]byte("rules: [{name: a, match: {SliceThickness: {ge: 1e3}}, actions: [{forward: {destinations: [x]}}]}]\n" + fb + "---\n"))
	f.Add([]byte("rules:\n  - name: a\n   match: {}\n"))
	subjects := []MapSubject{nil, series, {"SliceThickness": {"x", "2"}, "ImageType": {}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseBytes(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 || s != nil {
				t.Fatalf("error %T %v with set %v", err, err, s)
			}
			for _, p := range pe.Problems {
				if p.Msg == "" {
					t.Fatalf("empty problem in %v", err)
				}
			}
			return
		}
		for _, subj := range subjects {
			d := s.Evaluate(subj, scanner)
			_ = d.String()
			if len(d.Actions) == 0 {
				t.Fatalf("a decision without actions:\n%s", d)
			}
			if n := len(d.Matched) + len(d.Missed) + len(d.Skipped); n != len(s.rules) {
				t.Fatalf("%d outcomes for %d rules", n, len(s.rules))
			}
		}
		_ = s.Destinations()
		_ = s.Reconstructors()
	})
}
