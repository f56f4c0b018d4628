package rules

import (
	"slices"
	"strings"
	"testing"
)

// oneRule parses a set with a single rule "r" whose match is cond (YAML
// flow style).
func oneRule(t *testing.T, cond string) *Set {
	t.Helper()
	src := "rules:\n  - name: r\n    match: " + cond + "\n    actions: [{forward: {destinations: [d]}}]\nfallback: [{discard: {}}]\n"
	s, err := ParseBytes([]byte(src))
	if err != nil {
		t.Fatalf("parse %s:\n%v", cond, err)
	}
	return s
}

// series is the first instance used by most cases.
var series = MapSubject{
	"Modality":             {"MR"},
	"ImageType":            {"ORIGINAL", "PRIMARY", "M"},
	"SeriesDescription":    {"T1 MPRAGE "},
	"SliceThickness":       {"1.5"},
	"SeriesNumber":         {" 12"},
	"ImagePositionPatient": {"-10.5", "0", "3e1"},
	"StudyDescription":     {"abc"},
	"PatientName":          {},
	"SOPClassUID":          {"1.2.840.10008.5.1.4.1.1.4\x00"},
	"(0077,1001)":          {"raw"},
}

var scanner = Association{CallingAE: "SCANNER1 ", CalledAE: "TWEEDIE", PeerAddr: "10.20.3.4:50123"}

func TestConditions(t *testing.T) {
	cases := []struct {
		cond string
		want bool
	}{
		// equals
		{`{Modality: {equals: MR}}`, true},
		{`{Modality: {equals: CT}}`, false},
		{`{Modality: {equals: mr}}`, false},
		{`{Modality: {equals: mr, ignore_case: true}}`, true},
		{`{Modality: {equals: mr, ignore_case: false}}`, false},
		{`{Modality: {equals: "MR  "}}`, true},
		{`{Modality: {equals: M}}`, false},
		{`{SeriesDescription: {equals: "T1 MPRAGE"}}`, true},
		{`{SeriesDescription: {equals: T1}}`, false},
		{`{ImageType: {equals: PRIMARY}}`, true},
		{`{ImageType: {equals: PRIMARY, all_values: true}}`, false},
		{`{Modality: {equals: MR, all_values: true}}`, true},
		{`{"(0008,0060)": {equals: MR}}`, true},
		{`{"00080060": {equals: MR}}`, true},
		{`{"(0077,1001)": {equals: raw}}`, true},
		{`{"(0077,1002)": {equals: raw}}`, false},
		{`{PatientName: {equals: ""}}`, true},
		{`{BodyPartExamined: {equals: ""}}`, false},
		{`{SOPClassUID: {equals: 1.2.840.10008.5.1.4.1.1.4}}`, true},
		// in
		{`{Modality: {in: [CT, MR]}}`, true},
		{`{Modality: {in: [CT, PT]}}`, false},
		{`{Modality: {in: [ct, mr]}}`, false},
		{`{Modality: {in: [ct, mr], ignore_case: true}}`, true},
		{`{ImageType: {in: [DERIVED, M]}}`, true},
		{`{ImageType: {in: [ORIGINAL, PRIMARY], all_values: true}}`, false},
		{`{ImageType: {in: [ORIGINAL, PRIMARY, M], all_values: true}}`, true},
		{`{BodyPartExamined: {in: [HEAD, ""]}}`, false},
		// regex: unanchored search over the trimmed value
		{`{SeriesDescription: {regex: MPRAGE}}`, true},
		{`{SeriesDescription: {regex: "^MPRAGE"}}`, false},
		{`{SeriesDescription: {regex: "^T1 MPRAGE$"}}`, true},
		{`{SeriesDescription: {regex: mprage}}`, false},
		{`{SeriesDescription: {regex: mprage, ignore_case: true}}`, true},
		{`{SeriesDescription: {regex: "(?i)mprage"}}`, true},
		{`{ImageType: {regex: "^ORIGINAL"}}`, true},
		{`{ImageType: {regex: "^(ORIGINAL|PRIMARY)$", all_values: true}}`, false},
		{`{ImageType: {regex: "^[A-Z]+$", all_values: true}}`, true},
		{`{BodyPartExamined: {regex: ".*"}}`, false},
		{`{PatientName: {regex: "^$"}}`, true},
		// exists
		{`{Modality: {exists: true}}`, true},
		{`{Modality: {exists: false}}`, false},
		{`{BodyPartExamined: {exists: false}}`, true},
		{`{BodyPartExamined: {exists: true}}`, false},
		{`{PatientName: {exists: true}}`, true},
		{`{"(0077,1001)": {exists: true}}`, true},
		// numbers
		{`{SliceThickness: {gt: 1}}`, true},
		{`{SliceThickness: {gt: 1.5}}`, false},
		{`{SliceThickness: {ge: 1.5}}`, true},
		{`{SliceThickness: {lt: 1.5}}`, false},
		{`{SliceThickness: {le: 1.5}}`, true},
		{`{SliceThickness: {lt: 2}}`, true},
		{`{SliceThickness: {ge: "1.50"}}`, true},
		{`{SeriesNumber: {ge: 12}}`, true},
		{`{SeriesNumber: {gt: 12}}`, false},
		{`{StudyDescription: {lt: 1e9}}`, false},
		{`{StudyDescription: {gt: -1e9}}`, false},
		{`{ImagePositionPatient: {lt: -10}}`, true},
		{`{ImagePositionPatient: {gt: 29.9}}`, true},
		{`{ImagePositionPatient: {gt: 30}}`, false},
		{`{ImagePositionPatient: {ge: -10.5, all_values: true}}`, true},
		{`{ImagePositionPatient: {gt: -10.5, all_values: true}}`, false},
		{`{BodyPartExamined: {lt: 1}}`, false},
		{`{PatientName: {lt: 1}}`, false},
		// pseudo-attributes
		{`{calling_ae: {equals: SCANNER1}}`, true},
		{`{calling_ae: {equals: scanner1}}`, false},
		{`{calling_ae: {equals: scanner1, ignore_case: true}}`, true},
		{`{called_ae: {in: [OTHER, TWEEDIE]}}`, true},
		{`{calling_ae: {regex: "^SCAN"}}`, true},
		{`{peer_address: {equals: 10.20.3.4}}`, true},
		{`{peer_address: {regex: '^10\.20\.'}}`, true},
		{`{peer_address: {cidr: 10.20.0.0/16}}`, true},
		{`{peer_address: {cidr: 10.21.0.0/16}}`, false},
		{`{peer_address: {cidr: 10.20.3.4}}`, true},
		{`{peer_address: {cidr: 10.20.3.5}}`, false},
		{`{peer_address: {cidr: "10.20.3.0/24 "}}`, true},
		{`{peer_address: {cidr: [192.168.0.0/16, 10.0.0.0/8]}}`, true},
		{`{peer_address: {cidr: [192.168.0.0/16, 172.16.0.0/12]}}`, false},
		{`{peer_address: {cidr: "::ffff:10.20.0.0/112"}}`, true},
		{`{peer_address: {cidr: "::/0"}}`, false},
		{`{peer_address: {exists: true}}`, true},
		// combinators
		{`{always: true}`, true},
		{`{always: false}`, false},
		{`{}`, true},
		{`~`, true},
		{`{all: [{Modality: {equals: MR}}, {SliceThickness: {le: 1.5}}]}`, true},
		{`{all: [{Modality: {equals: MR}}, {SliceThickness: {lt: 1.5}}]}`, false},
		{`{all: [{Modality: {equals: CT}}, {SliceThickness: {le: 1.5}}]}`, false},
		{`{all: [{Modality: {equals: MR}}]}`, true},
		{`{any: [{Modality: {equals: CT}}, {Modality: {equals: MR}}]}`, true},
		{`{any: [{Modality: {equals: CT}}, {Modality: {equals: PT}}]}`, false},
		{`{any: [{Modality: {equals: MR}}, {BodyPartExamined: {exists: true}}]}`, true},
		{`{not: {Modality: {equals: CT}}}`, true},
		{`{not: {Modality: {equals: MR}}}`, false},
		{`{not: {BodyPartExamined: {equals: HEAD}}}`, true},
		{`{not: {BodyPartExamined: {exists: true}}}`, true},
		{`{not: {not: {Modality: {equals: MR}}}}`, true},
		{`{not: {not: {not: {Modality: {equals: MR}}}}}`, false},
		{`{not: {always: true}}`, false},
		{`{not: {all: [{Modality: {equals: MR}}, {SliceThickness: {gt: 2}}]}}`, true},
		{`{not: {all: [{Modality: {equals: MR}}, {SliceThickness: {gt: 1}}]}}`, false},
		{`{not: {any: [{Modality: {equals: CT}}, {SliceThickness: {gt: 2}}]}}`, true},
		{`{not: {any: [{Modality: {equals: CT}}, {SliceThickness: {gt: 1}}]}}`, false},
		{`{any: [{all: [{Modality: {equals: CT}}, {SliceThickness: {gt: 1}}]}, {all: [{Modality: {equals: MR}}, {ImageType: {equals: M}}]}]}`, true},
		{`{any: [{all: [{Modality: {equals: CT}}, {SliceThickness: {gt: 1}}]}, {all: [{Modality: {equals: MR}}, {ImageType: {equals: P}}]}]}`, false},
		{`{all: [{any: [{Modality: {equals: CT}}, {Modality: {equals: MR}}]}, {not: {any: [{ImageType: {equals: DERIVED}}, {ImageType: {equals: SECONDARY}}]}}]}`, true},
		{`{all: [{any: [{Modality: {equals: CT}}, {Modality: {equals: MR}}]}, {not: {any: [{ImageType: {equals: DERIVED}}, {ImageType: {equals: M}}]}}]}`, false},
		{`{all: [{calling_ae: {equals: SCANNER1}}, {peer_address: {cidr: 10.0.0.0/8}}, {not: {Modality: {in: [CT, PT]}}}]}`, true},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			d := oneRule(t, c.cond).Evaluate(series, scanner)
			if got := len(d.Matched) == 1; got != c.want {
				t.Errorf("matched = %v, want %v\n%s", got, c.want, d)
			}
			if d.Fallback == c.want {
				t.Errorf("Fallback = %v with matched = %v", d.Fallback, c.want)
			}
		})
	}
}

// TestNumbers: a value is a number when it is a decimal as DICOM writes
// DS and IS; anything else makes the comparison false, never an error.
func TestNumbers(t *testing.T) {
	cases := []struct {
		value, cond string
		want        bool
	}{
		{"1.5", `{ge: 1.5}`, true},
		{"+1.5", `{ge: 1.5}`, true},
		{".5", `{le: 0.5}`, true},
		{".5", `{lt: 0.5}`, false},
		{"5.", `{ge: 5}`, true},
		{"1E2", `{ge: 100}`, true},
		{"1e-2", `{lt: 0.011}`, true},
		{"-0", `{ge: 0}`, true},
		{"-0", `{le: 0}`, true},
		{"-0", `{lt: 0}`, false},
		{"0", `{gt: -0}`, false},
		{"-1e3", `{lt: -999.9}`, true},
		{"  7 ", `{ge: 7}`, true},
		{"0.1", `{le: 0.1}`, true},
		{"0.1", `{lt: 0.1}`, false},
		{"123456789012", `{gt: 123456789011}`, true},
		{"1e-400", `{le: 0}`, true}, // underflows to 0: still a number
		// not numbers: false whatever the operator
		{"0x10", `{gt: 0}`, false},
		{"0x10", `{lt: 1e9}`, false},
		{"NaN", `{lt: 1e9}`, false},
		{"NaN", `{gt: -1e9}`, false},
		{"Inf", `{gt: 0}`, false},
		{"-Infinity", `{lt: 0}`, false},
		{"1_000", `{gt: 0}`, false},
		{"1,5", `{gt: 0}`, false},
		{"", `{gt: -1}`, false},
		{"", `{lt: 1}`, false},
		{"1e", `{gt: 0}`, false},
		{"e3", `{gt: 0}`, false},
		{".", `{ge: 0}`, false},
		{"--1", `{lt: 0}`, false},
		{"1 2", `{gt: 0}`, false},
		{"1e400", `{gt: 0}`, false}, // out of range
		{"12abc", `{gt: 0}`, false},
	}
	for _, c := range cases {
		t.Run(c.value+" "+c.cond, func(t *testing.T) {
			s := oneRule(t, `{SliceThickness: `+c.cond+`}`)
			d := s.Evaluate(MapSubject{"SliceThickness": {c.value}}, Association{})
			if got := len(d.Matched) == 1; got != c.want {
				t.Errorf("matched = %v, want %v\n%s", got, c.want, d)
			}
		})
	}
}

func TestPeerAddress(t *testing.T) {
	cases := []struct {
		peer, cond string
		want       bool
	}{
		{"[::ffff:10.20.3.4]:104", `{cidr: 10.20.0.0/16}`, true},
		{"[::ffff:10.20.3.4]:104", `{equals: 10.20.3.4}`, true},
		{"[fe80::1%eth0]:104", `{cidr: "fe80::/10"}`, true},
		{"[fe80::1%eth0]:104", `{equals: "fe80::1"}`, true},
		{"[2001:db8::5]:104", `{cidr: "2001:db8::/32"}`, true},
		{"[2001:db8::5]:104", `{cidr: 0.0.0.0/0}`, false},
		{"10.1.1.1", `{cidr: 10.0.0.0/8}`, true},
		{"scanner.local:104", `{equals: scanner.local}`, true},
		{"scanner.local:104", `{cidr: 0.0.0.0/0}`, false},
		{"", `{exists: false}`, true},
		{"", `{cidr: 0.0.0.0/0}`, false},
		{"", `{regex: ""}`, false},
	}
	for _, c := range cases {
		t.Run(c.peer+" "+c.cond, func(t *testing.T) {
			d := oneRule(t, `{peer_address: `+c.cond+`}`).Evaluate(nil, Association{PeerAddr: c.peer})
			if got := len(d.Matched) == 1; got != c.want {
				t.Errorf("matched = %v, want %v\n%s", got, c.want, d)
			}
		})
	}
	// Empty AE titles are absent, not empty values.
	d := oneRule(t, `{all: [{calling_ae: {exists: false}}, {called_ae: {exists: false}}]}`).Evaluate(series, Association{CallingAE: "  "})
	if len(d.Matched) != 1 {
		t.Errorf("blank AE titles should be absent:\n%s", d)
	}
}

func TestWhy(t *testing.T) {
	cases := []struct {
		cond string
		want []string
	}{
		{`{Modality: {equals: MR}}`, []string{`Modality equals "MR" (value "MR")`}},
		{`{Modality: {equals: CT}}`, []string{`Modality equals "CT" (value "MR")`}},
		{`{"(0008,0060)": {equals: "mr ", ignore_case: true}}`, []string{`Modality equals "mr" ignore_case (value "MR")`}},
		{`{ImageType: {regex: "^ORIGINAL"}}`, []string{`ImageType regex "^ORIGINAL" (value "ORIGINAL")`}},
		{`{ImageType: {equals: M}}`, []string{`ImageType equals "M" (value "M")`}},
		{`{ImageType: {equals: DERIVED}}`, []string{`ImageType equals "DERIVED" (values "ORIGINAL", "PRIMARY", "M")`}},
		{`{ImageType: {regex: "^[OP]", all_values: true}}`, []string{`ImageType regex "^[OP]" all_values (value "M")`}},
		{`{ImageType: {regex: "^[A-Z]", all_values: true}}`, []string{`ImageType regex "^[A-Z]" all_values (values "ORIGINAL", "PRIMARY", "M")`}},
		{`{Modality: {in: [CT, PT]}}`, []string{`Modality in ["CT", "PT"] (value "MR")`}},
		{`{BodyPartExamined: {equals: HEAD}}`, []string{`BodyPartExamined equals "HEAD" (absent)`}},
		{`{BodyPartExamined: {exists: false}}`, []string{`BodyPartExamined exists false (absent)`}},
		{`{Modality: {exists: false}}`, []string{`Modality exists false (value "MR")`}},
		{`{PatientName: {exists: true}}`, []string{`PatientName exists true (value "")`}},
		{`{"(0077,1001)": {equals: raw}}`, []string{`(0077,1001) equals "raw" (value "raw")`}},
		{`{SliceThickness: {gt: 2.0}}`, []string{`SliceThickness gt 2.0 (value "1.5")`}},
		{`{StudyDescription: {gt: 2}}`, []string{`StudyDescription gt 2 (value "abc", not a number)`}},
		{`{peer_address: {cidr: [10.0.0.0/8, 192.168.1.1]}}`, []string{`peer_address cidr [10.0.0.0/8, 192.168.1.1/32] (value "10.20.3.4")`}},
		{`{calling_ae: {equals: SCANNER1}}`, []string{`calling_ae equals "SCANNER1" (value "SCANNER1")`}},
		{`{always: true}`, []string{"always"}},
		{`{}`, []string{"always (empty match)"}},
		// all: every condition that held, or the first that failed
		{`{all: [{Modality: {equals: MR}}, {SliceThickness: {lt: 2}}]}`,
			[]string{`Modality equals "MR" (value "MR")`, `SliceThickness lt 2 (value "1.5")`}},
		{`{all: [{Modality: {equals: MR}}, {SliceThickness: {gt: 2}}, {Modality: {equals: CT}}]}`,
			[]string{`SliceThickness gt 2 (value "1.5")`}},
		// any: the first that held, or every alternative
		{`{any: [{Modality: {equals: CT}}, {Modality: {equals: MR}}, {SliceThickness: {lt: 2}}]}`,
			[]string{`Modality equals "MR" (value "MR")`}},
		{`{any: [{Modality: {equals: CT}}, {BodyPartExamined: {exists: true}}]}`,
			[]string{`Modality equals "CT" (value "MR")`, `BodyPartExamined exists true (absent)`}},
		// not
		{`{not: {Modality: {equals: CT}}}`, []string{`not Modality equals "CT" (value "MR")`}},
		{`{not: {any: [{Modality: {equals: CT}}, {Modality: {equals: PT}}]}}`,
			[]string{`not (Modality equals "CT" (value "MR") or Modality equals "PT" (value "MR"))`}},
		{`{not: {all: [{Modality: {equals: MR}}, {SliceThickness: {lt: 2}}]}}`,
			[]string{`not (Modality equals "MR" (value "MR") and SliceThickness lt 2 (value "1.5"))`}},
		{`{not: {not: {Modality: {equals: MR}}}}`, []string{`not not Modality equals "MR" (value "MR")`}},
		{`{all: [{Modality: {equals: MR}}, {not: {ImageType: {equals: DERIVED}}}]}`,
			[]string{`Modality equals "MR" (value "MR")`, `not ImageType equals "DERIVED" (values "ORIGINAL", "PRIMARY", "M")`}},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			d := oneRule(t, c.cond).Evaluate(series, scanner)
			var o Outcome
			switch {
			case len(d.Matched) == 1:
				o = d.Matched[0]
			case len(d.Missed) == 1:
				o = d.Missed[0]
			default:
				t.Fatalf("rule neither matched nor missed:\n%s", d)
			}
			if !slices.Equal(o.Why, c.want) {
				t.Errorf("Why =\n  %s\nwant\n  %s", strings.Join(o.Why, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func TestWhyShortensLongValues(t *testing.T) {
	long := strings.Repeat("x", 100)
	many := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	d := oneRule(t, `{any: [{StudyDescription: {equals: y}}, {ImageType: {equals: y}}]}`).
		Evaluate(MapSubject{"StudyDescription": {long}, "ImageType": many}, Association{})
	want := []string{
		`StudyDescription equals "y" (value "` + strings.Repeat("x", 64) + `"…)`,
		`ImageType equals "y" (values "1", "2", "3", "4", "5", "6", "7", "8", … (10 values))`,
	}
	if len(d.Missed) != 1 || !slices.Equal(d.Missed[0].Why, want) {
		t.Errorf("got %+v\nwant %q", d.Missed, want)
	}
}

const flow = `
rules:
  - name: mr
    match: {Modality: {equals: MR}}
    actions: [{forward: {destinations: [x]}}]
  - name: original
    match: {ImageType: {equals: ORIGINAL}}
    actions:
      - reconstruct: {reconstructor: r1, params: {steps: 10}, destinations: [pacs]}
      - forward: {destinations: [archive]}
    stop: true
  - name: described
    match: {SeriesDescription: {exists: true}}
    actions: [{forward: {destinations: [y]}}]
fallback:
  - discard: {reason: unmatched}
`

func TestOrderStopFallback(t *testing.T) {
	s, err := ParseBytes([]byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                     string
		subj                     MapSubject
		matched, missed, skipped []string
		actions                  []string
		fallback                 bool
	}{
		{"all three would match; stop cuts the last",
			MapSubject{"Modality": {"MR"}, "ImageType": {"ORIGINAL"}, "SeriesDescription": {"t1"}},
			[]string{"mr", "original"}, nil, []string{"described"},
			[]string{"forward to x", "reconstruct with r1 (steps=10) to pacs", "forward to archive"}, false},
		{"stop rule first to match",
			MapSubject{"Modality": {"CT"}, "ImageType": {"ORIGINAL"}, "SeriesDescription": {"t1"}},
			[]string{"original"}, []string{"mr"}, []string{"described"},
			[]string{"reconstruct with r1 (steps=10) to pacs", "forward to archive"}, false},
		{"no stop: later rules add actions",
			MapSubject{"Modality": {"MR"}, "ImageType": {"DERIVED"}, "SeriesDescription": {"t1"}},
			[]string{"mr", "described"}, []string{"original"}, nil,
			[]string{"forward to x", "forward to y"}, false},
		{"only the last",
			MapSubject{"SeriesDescription": {"t1"}},
			[]string{"described"}, []string{"mr", "original"}, nil,
			[]string{"forward to y"}, false},
		{"nothing matches: fallback",
			MapSubject{"Modality": {"CT"}},
			nil, []string{"mr", "original", "described"}, nil,
			[]string{"discard (unmatched)"}, true},
		{"nil subject: fallback", nil,
			nil, []string{"mr", "original", "described"}, nil,
			[]string{"discard (unmatched)"}, true},
	}
	names := func(os []Outcome) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.Rule)
		}
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decision
			if c.subj == nil {
				d = s.Evaluate(nil, Association{})
			} else {
				d = s.Evaluate(c.subj, Association{})
			}
			var acts []string
			for _, a := range d.Actions {
				acts = append(acts, a.String())
			}
			if !slices.Equal(names(d.Matched), c.matched) || !slices.Equal(names(d.Missed), c.missed) ||
				!slices.Equal(names(d.Skipped), c.skipped) || !slices.Equal(acts, c.actions) || d.Fallback != c.fallback {
				t.Errorf("got matched %v missed %v skipped %v actions %q fallback %v\nwant matched %v missed %v skipped %v actions %q fallback %v",
					names(d.Matched), names(d.Missed), names(d.Skipped), acts, d.Fallback,
					c.matched, c.missed, c.skipped, c.actions, c.fallback)
			}
			if d.Discard() != c.fallback {
				t.Errorf("Discard() = %v", d.Discard())
			}
		})
	}
}

func TestActionRuleAndIndex(t *testing.T) {
	s, err := ParseBytes([]byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Evaluate(MapSubject{"Modality": {"MR"}, "ImageType": {"ORIGINAL"}}, Association{})
	if got := []string{d.Actions[0].Rule, d.Actions[1].Rule, d.Actions[2].Rule}; !slices.Equal(got, []string{"mr", "original", "original"}) {
		t.Errorf("action rules = %q", got)
	}
	if d.Matched[1].Index != 1 || !d.Matched[1].Stop || d.Skipped[0].Index != 2 {
		t.Errorf("outcomes %+v %+v", d.Matched, d.Skipped)
	}
	if want := []string{`rule "original" matched with stop: true`}; !slices.Equal(d.Skipped[0].Why, want) {
		t.Errorf("skipped why %q", d.Skipped[0].Why)
	}
	f := s.Evaluate(nil, Association{})
	if f.Actions[0].Rule != "" || f.Actions[0].Kind != Discard {
		t.Errorf("fallback action %+v", f.Actions[0])
	}
	// The decision's actions are copies: changing them leaves the set alone.
	d.Actions[1].Params["steps"] = "999"
	d.Actions[1].Destinations[0] = "elsewhere"
	again := s.Evaluate(MapSubject{"ImageType": {"ORIGINAL"}}, Association{})
	if got := again.Actions[0].String(); got != "reconstruct with r1 (steps=10) to pacs" {
		t.Errorf("set was changed through a decision: %s", got)
	}
}

func TestCombine(t *testing.T) {
	src := `
rules:
  - {name: a, match: {Modality: {equals: MR}}, actions: [{forward: {destinations: [pacs]}}]}
  - {name: b, match: {Modality: {exists: true}}, actions: [{forward: {destinations: [pacs]}}]}
  - {name: c, match: {ImageType: {equals: LOCALIZER}}, actions: [{discard: {reason: loc}}]}
  - {name: d, match: {SeriesDescription: {exists: true}}, actions: [{discard: {reason: described}}]}
  - {name: e, match: {Modality: {equals: MR}}, actions: [{forward: {destinations: [pacs, archive]}}]}
  - {name: f, match: {Modality: {equals: MR}}, actions: [{reconstruct: {reconstructor: r, params: {k: "1"}, destinations: [pacs]}}]}
  - {name: g, match: {Modality: {equals: MR}}, actions: [{reconstruct: {reconstructor: r, params: {k: "2"}, destinations: [pacs]}}]}
  - {name: h, match: {Modality: {equals: MR}}, actions: [{reconstruct: {reconstructor: r, params: {k: "1"}, destinations: [pacs]}}]}
fallback: [{discard: {}}]
`
	s, err := ParseBytes([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		subj    MapSubject
		actions []string
		rules   []string
		discard bool
	}{
		{"identical actions once; different params kept",
			MapSubject{"Modality": {"MR"}},
			[]string{"forward to pacs", "forward to pacs, archive", "reconstruct with r (k=1) to pacs", "reconstruct with r (k=2) to pacs"},
			[]string{"a", "e", "f", "g"}, false},
		{"discard does not cancel a forward",
			MapSubject{"Modality": {"CT"}, "ImageType": {"LOCALIZER"}},
			[]string{"forward to pacs"}, []string{"b"}, false},
		{"only discards: the first one",
			MapSubject{"ImageType": {"LOCALIZER"}, "SeriesDescription": {"x"}},
			[]string{"discard (loc)"}, []string{"c"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.Evaluate(c.subj, Association{})
			var acts, rules []string
			for _, a := range d.Actions {
				acts = append(acts, a.String())
				rules = append(rules, a.Rule)
			}
			if !slices.Equal(acts, c.actions) || !slices.Equal(rules, c.rules) || d.Discard() != c.discard || d.Fallback {
				t.Errorf("got %q from %q discard %v\n%s", acts, rules, d.Discard(), d)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	s, err := ParseBytes([]byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Evaluate(MapSubject{"Modality": {"CT"}, "ImageType": {"ORIGINAL", "PRIMARY"}}, Association{}).String()
	want := `rule "mr" did not match:
    Modality equals "MR" (value "CT")
rule "original" matched, stop:
    ImageType equals "ORIGINAL" (value "ORIGINAL")
rule "described" not evaluated:
    rule "original" matched with stop: true
actions:
    reconstruct with r1 (steps=10) to pacs  [rule "original"]
    forward to archive  [rule "original"]
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = s.Evaluate(MapSubject{}, Association{}).String()
	want = `rule "mr" did not match:
    Modality equals "MR" (absent)
rule "original" did not match:
    ImageType equals "ORIGINAL" (absent)
rule "described" did not match:
    SeriesDescription exists true (absent)
no rule matched; fallback actions:
    discard (unmatched)
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A Subject that only answers canonical keys proves Evaluate asks with
// them, whatever form the rule was written in.
type strictSubject map[string][]string

func (s strictSubject) Values(attr string) ([]string, bool) {
	v, ok := s[attr]
	return v, ok
}

func TestEvaluateAsksCanonicalKeys(t *testing.T) {
	subj := strictSubject{"Modality": {"MR"}, "(0029,1010)": {"x"}, "SeriesDescription": {"a"}}
	for _, cond := range []string{
		`{"(0008,0060)": {equals: MR}}`,
		`{"00080060": {equals: MR}}`,
		`{"(0029,1010)": {exists: true}}`,
		`{"00291010": {equals: x}}`,
		`{"0008103e": {equals: a}}`,
		`{"(0008,103E)": {equals: a}}`,
	} {
		if d := oneRule(t, cond).Evaluate(subj, Association{}); len(d.Matched) != 1 {
			t.Errorf("%s did not match:\n%s", cond, d)
		}
	}
}
