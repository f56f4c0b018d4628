package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const fb = "fallback: [{discard: {}}]\n"

// problems parses src and returns the problems, one string each.
func problems(t *testing.T, src string) []string {
	t.Helper()
	s, err := ParseBytes([]byte(src))
	if err == nil {
		t.Fatalf("no error; parsed %d rules", len(s.rules))
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v is not a *ParseError", err, err)
	}
	if s != nil {
		t.Errorf("a Set came back with the error")
	}
	if got := strings.Split(err.Error(), "\n"); len(got) != len(pe.Problems) {
		t.Errorf("Error() has %d lines for %d problems", len(got), len(pe.Problems))
	}
	var out []string
	for _, p := range pe.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestParseProblems(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"empty file", "", []string{
			`line 1:1: the rules file is empty; it needs at least a fallback`}},
		{"comment only", "# nothing\n", []string{
			`line 1:1: the rules file is empty; it needs at least a fallback`}},
		{"missing fallback", "rules: []\n", []string{
			`line 1:1: no fallback: say what happens to a series no rule matches, e.g. fallback: [{discard: {}}]`}},
		{"section is a list", "- a\n- b\n", []string{
			`line 1:1: the rules section must be a mapping with rules and fallback, not a list`}},
		{"unknown top-level key", "rule: []\n" + fb, []string{
			`line 1:1: unknown key "rule" in the rules section; expected rules or fallback`}},
		{"rules not a list", "rules: {a: 1}\n" + fb, []string{
			`line 1:8: rules must be a list of rules, not a mapping`}},
		{"rule not a mapping", "rules:\n  - just-a-name\n" + fb, []string{
			`line 2:5: a rule must be a mapping with name, match and actions, not "just-a-name"`}},
		{"unknown rule key", `rules:
  - name: a
    match: {}
    actions: [{discard: {}}]
    stop_here: true
` + fb, []string{
			`line 5:5: unknown key "stop_here" in a rule; expected name, description, match, actions or stop`}},
		{"duplicate key in a rule", `rules:
  - name: a
    match: {}
    match: {always: true}
    actions: [{discard: {}}]
` + fb, []string{
			`line 4:5: a rule has "match" twice (first at line 3)`}},
		{"missing name, match and actions", "rules:\n  - description: nothing else\n" + fb, []string{
			`line 2:5: a rule needs a name`,
			`line 2:5: this rule has no match; write match: {always: true} to match every series`,
			`line 2:5: this rule has no actions`}},
		{"empty and non-scalar names", `rules:
  - name: " "
    match: {}
    actions: [{discard: {}}]
  - name: [a]
    match: {}
    actions: [{discard: {}}]
` + fb, []string{
			`line 2:11: the rule name is empty`,
			`line 5:11: name must be a single value, not a list`}},
		{"duplicate rule names", `rules:
  - name: mr
    match: {}
    actions: [{discard: {}}]
  - name: ct
    match: {}
    actions: [{discard: {}}]
  - name: mr
    match: {}
    actions: [{discard: {}}]
` + fb, []string{
			`line 8:11: rule name "mr" is already used at line 2`}},
		{"stop and description types", `rules:
  - name: a
    description: [x]
    match: {}
    actions: [{discard: {}}]
    stop: yes
` + fb, []string{
			`line 3:18: description must be a single value, not a list`,
			`line 6:11: stop must be true or false, not "yes"`}},
		{"empty actions", `rules:
  - name: a
    match: {}
    actions: []
` + fb, []string{
			`line 4:14: rule "a" has no actions; to drop series write [{discard: {}}]`}},
		{"actions not a list", `rules:
  - name: a
    match: {}
    actions: {forward: {destinations: [x]}}
` + fb, []string{
			`line 4:14: the actions of rule "a" must be a list, like [{forward: {destinations: [pacs]}}], not a mapping`}},
		{"match is a list", `rules:
  - name: a
    match: [{Modality: {equals: MR}}]
    actions: [{discard: {}}]
` + fb, []string{
			`line 3:12: a condition must be a mapping like {Modality: {equals: MR}} or {all: [...]}, not a list`}},
		{"two keys in a condition", `rules:
  - name: a
    match:
      Modality: {equals: MR}
      ImageType: {equals: M}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:7: a condition has one key, this one has 2 (Modality, ImageType); put them in all: [...] or any: [...]`}},
		{"unknown attributes", `rules:
  - name: a
    match:
      any:
        - Modalty: {equals: MR}
        - modality: {equals: MR}
        - series_description: {equals: x}
        - "Patient's Name": {equals: x}
        - "(0008,006)": {equals: x}
        - "(FFFE,E000)": {exists: true}
        - ReferencedImageSequence: {exists: true}
        - callingAE: {equals: X}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:11: "Modalty" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060, nor calling_ae, called_ae or peer_address`,
			`line 6:11: "modality" is not a DICOM keyword; did you mean Modality?`,
			`line 7:11: "series_description" is not a DICOM keyword; did you mean SeriesDescription?`,
			`line 8:11: "Patient's Name" is an attribute name; its keyword is PatientName`,
			`line 9:11: "(0008,006)" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060, nor calling_ae, called_ae or peer_address`,
			`line 10:11: (FFFE,E000) is an item delimiter, not an attribute`,
			`line 11:11: ReferencedImageSequence is a sequence; rules match top-level attributes only`,
			`line 12:11: "callingAE" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060, nor calling_ae, called_ae or peer_address`}},
		{"operators", `rules:
  - name: a
    match:
      all:
        - Modality: {equal: MR}
        - Modality: {equals: MR, regex: M}
        - Modality: {}
        - Modality: MR
        - Modality: {equals: [MR]}
        - Modality: {equals: ~}
        - Modality: {in: MR}
        - Modality: {in: []}
        - Modality: {in: [MR, [CT]]}
        - Modality: {exists: yes}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:22: unknown operator "equal"; expected equals, in, regex, exists, lt, le, gt, ge, cidr (with ignore_case or all_values)`,
			`line 6:34: Modality already has the operator equals; compare with one operator and combine with all: or any:`,
			`line 7:21: no operator for Modality; expected one of equals, in, regex, exists, lt, le, gt, ge, cidr`,
			`line 8:21: Modality must be followed by a mapping of operator to value, like {equals: MR}, not "MR"`,
			`line 9:30: equals must be a single value, not a list`,
			`line 10:30: equals must be a single value, not nothing`,
			`line 11:26: in must be a list, not "MR"`,
			`line 12:26: in is an empty list`,
			`line 13:31: an in list item must be a single value, not a list`,
			`line 14:30: exists must be true or false, not "yes"`}},
		{"regular expressions", `rules:
  - name: a
    match:
      any:
        - SeriesDescription: {regex: "(ORIGINAL"}
        - SeriesDescription: {regex: 'a**'}
        - SeriesDescription: {regex: '(?<=x)y'}
        - SeriesDescription: {regex: ok, ignore_case: true}
    actions: [{discard: {}}]
` + fb, []string{
			"line 5:38: bad regex \"(ORIGINAL\": missing closing ): `(ORIGINAL`",
			"line 6:38: bad regex \"a**\": invalid nested repetition operator: `**`",
			"line 7:38: bad regex \"(?<=x)y\": invalid named capture: `(?<=x)y`"}},
		{"numbers", `rules:
  - name: a
    match:
      any:
        - SliceThickness: {gt: abc}
        - SliceThickness: {lt: .inf}
        - SliceThickness: {le: 0x10}
        - SliceThickness: {ge: 1e400}
        - SliceThickness: {ge: [1]}
        - SliceThickness: {gt: 1, ignore_case: true}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:32: gt needs a decimal number like 2.5 or -1e3, not "abc"`,
			`line 6:32: lt needs a decimal number like 2.5 or -1e3, not ".inf"`,
			`line 7:32: le needs a decimal number like 2.5 or -1e3, not "0x10"`,
			`line 8:32: ge needs a decimal number like 2.5 or -1e3, not "1e400"`,
			`line 9:32: ge must be a single value, not a list`,
			`line 10:35: ignore_case applies to equals, in and regex, not gt`}},
		{"options", `rules:
  - name: a
    match:
      any:
        - Modality: {exists: true, all_values: true}
        - Modality: {equals: MR, ignore_case: 1}
        - Modality: {equals: MR, all_values: true, all_values: false}
        - Modality: {exists: true, ignore_case: true}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:36: all_values does not apply to exists`,
			`line 6:47: ignore_case must be true or false, not "1"`,
			`line 7:52: all_values is given twice`,
			`line 8:36: ignore_case applies to equals, in and regex, not exists`}},
		{"cidr", `rules:
  - name: a
    match:
      any:
        - peer_address: {cidr: 10.0.0.0/33}
        - peer_address: {cidr: [10.0.0.0/8, not-an-ip, "fe80::1%eth0"]}
        - peer_address: {cidr: []}
        - calling_ae: {cidr: 10.0.0.0/8}
        - peer_address: {cidr: "::ffff:10.0.0.0/64"}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:32: "10.0.0.0/33" is not an address or CIDR prefix like 10.0.0.0/8`,
			`line 6:45: "not-an-ip" is not an address or CIDR prefix like 10.0.0.0/8`,
			`line 6:56: "fe80::1%eth0" is not an address or CIDR prefix like 10.0.0.0/8`,
			`line 7:32: cidr is an empty list`,
			`line 8:24: cidr applies to peer_address only, not calling_ae`,
			`line 9:32: "::ffff:10.0.0.0/64" is not an address or CIDR prefix like 10.0.0.0/8`}},
		{"combinators", `rules:
  - name: a
    match:
      any:
        - all: []
        - any: {Modality: {equals: MR}}
        - not: [{Modality: {equals: MR}}]
        - not: {}
        - all: [{}]
        - always: 1
        - all: [~]
        - not: {not: {not: {Modalty: {equals: MR}}}}
    actions: [{discard: {}}]
` + fb, []string{
			`line 5:16: all has no conditions`,
			`line 6:16: any must be a list of conditions, not a mapping`,
			`line 7:16: not takes one condition (a mapping), not a list; negate several with not: {any: [...]}`,
			`line 8:16: empty condition; write {always: true} to match everything`,
			`line 9:17: empty condition; write {always: true} to match everything`,
			`line 10:19: always must be true or false, not "1"`,
			`line 11:17: a condition must be a mapping like {Modality: {equals: MR}} or {all: [...]}, not nothing`,
			`line 12:29: "Modalty" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060, nor calling_ae, called_ae or peer_address`}},
		{"fallback", "rules: []\nfallback: []\n", []string{
			`line 2:11: fallback has no actions; to drop series write [{discard: {}}]`}},
		{"fallback not a list", "fallback: {discard: {}}\n", []string{
			`line 1:11: the actions of fallback must be a list, like [{forward: {destinations: [pacs]}}], not a mapping`}},
		{"fallback null", "fallback:\n", []string{
			`line 1:10: the actions of fallback must be a list, like [{forward: {destinations: [pacs]}}], not nothing`}},
		{"actions", `rules:
  - name: a
    match: {}
    actions:
      - route: {destinations: [x]}
      - forward: {destinations: [x]}
        reconstruct: {reconstructor: r, destinations: [x]}
      - forward
      - forward: {}
      - forward: {destinations: []}
      - forward: {destinations: [pacs, archive, pacs]}
      - forward: {destinations: [pacs, ""], to: x}
      - forward: [pacs]
fallback:
  - reconstruct: {destinations: [x]}
  - reconstruct: {reconstructor: "", destinations: [x]}
  - reconstruct: {reconstructor: r, params: [1], destinations: [x]}
  - reconstruct: {reconstructor: r, params: {a: [1], b: ~, a: 2}, destinations: [x]}
  - reconstruct: {reconstructor: r}
`, []string{
			`line 5:9: unknown action "route"; expected reconstruct, forward, discard or keep`,
			`line 6:9: an action is a mapping with one of reconstruct, forward, discard or keep, like {forward: {destinations: [pacs]}}; found a mapping`,
			`line 8:9: an action is a mapping with one of reconstruct, forward, discard or keep, like {forward: {destinations: [pacs]}}; found "forward"`,
			`line 9:18: forward needs destinations`,
			`line 10:33: destinations is an empty list`,
			`line 11:49: destination "pacs" is listed twice (first at line 11)`,
			`line 12:40: a destination is empty`,
			`line 12:45: unknown key "to" in forward; expected destinations`,
			`line 13:18: forward must be a mapping, not a list`,
			`line 15:18: reconstruct needs a reconstructor`,
			`line 16:34: reconstructor is empty`,
			`line 17:45: params must be a mapping of name to value, not a list`,
			`line 18:49: parameter a must be a single value, not a list`,
			`line 18:57: parameter b must be a single value, not nothing`,
			`line 18:60: parameter "a" is given twice (first at line 18)`,
			`line 19:18: reconstruct needs destinations`}},
		{"discard combined", `rules:
  - name: a
    match: {}
    actions:
      - forward: {destinations: [x]}
      - discard: {}
  - name: b
    match: {}
    actions:
      - discard: {reason: [x], why: y}
fallback:
  - discard:
  - discard: {}
`, []string{
			`line 6:9: discard cannot be combined with other actions in rule "a"`,
			`line 10:27: reason must be a single value, not a list`,
			`line 10:32: unknown key "why" in discard; expected reason`,
			`line 12:5: discard cannot be combined with other actions in fallback`}},
		{"syntax error", "rules:\n  - name: a\n   match: {}\n" + fb, []string{
			`line 2: YAML syntax: did not find expected '-' indicator; check the indentation of the list that starts on this line`}},
		{"unclosed flow mapping", "rules:\n  - name: a\n    match: {Modality: {equals: MR}\n    actions: []\n" + fb, []string{
			`line 3: YAML syntax: did not find expected ',' or '}' in the {...} mapping that starts on this line`}},
		{"value where a mapping goes on", "rules:\n  - name: a\n    match: x\n      y: z\n", []string{
			`line 4: YAML syntax: mapping values are not allowed in this context`}},
		{"tab indentation", "rules:\n\t- name: a\n" + fb, []string{
			`line 2: YAML syntax: found character that cannot start any token`}},
		{"two documents", fb + "---\n" + fb, []string{
			`line 2:1: a rules file holds one YAML document; remove this one or the ---`}},
		{"two documents, both wrong", "rules: 1\n" + fb + "---\nx: 1\n", []string{
			`line 1:8: rules must be a list of rules, not "1"`,
			`line 3:1: a rules file holds one YAML document; remove this one or the ---`}},
		{"merge keys are not supported", `base: &b {name: a, match: {}, actions: [{discard: {}}]}
rules:
  - <<: *b
    name: c
` + fb, []string{
			`line 1:1: unknown key "base" in the rules section; expected rules or fallback`,
			`line 3:5: unknown key "<<" in a rule; expected name, description, match, actions or stop`,
			`line 3:5: rule "c" has no match; write match: {always: true} to match every series`,
			`line 3:5: rule "c" has no actions`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := problems(t, c.src)
			if !slices.Equal(got, c.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

// TestParseManyProblems: one file with a problem of each kind; every one is
// reported, in order of position, and a problem in one rule does not hide
// those in the next.
func TestParseManyProblems(t *testing.T) {
	src := `rules:
  - name: mr
    match:
      all:
        - Modalty: {equals: MR}
        - ImageType: {regex: "(ORIGINAL"}
    actions:
      - reconstruct: {reconstructor: sense, destinations: [pacs]}
  - name: mr
    match: {peer_address: {cidr: 10.0.0.0/99}}
    actions: []
  - name: ct
    match: {SliceThickness: {lt: thin}}
    actions: [{forward: {destinations: [pacs]}}]
    stop: maybe
  - name: odd
    mach: {}
    actions: [{forward: {destinations: [pacs]}}]
`
	want := []string{
		`line 1:1: no fallback: say what happens to a series no rule matches, e.g. fallback: [{discard: {}}]`,
		`line 5:11: "Modalty" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060, nor calling_ae, called_ae or peer_address`,
		"line 6:30: bad regex \"(ORIGINAL\": missing closing ): `(ORIGINAL`",
		`line 9:11: rule name "mr" is already used at line 2`,
		`line 10:34: "10.0.0.0/99" is not an address or CIDR prefix like 10.0.0.0/8`,
		`line 11:14: rule "mr" has no actions; to drop series write [{discard: {}}]`,
		`line 13:34: lt needs a decimal number like 2.5 or -1e3, not "thin"`,
		`line 15:11: stop must be true or false, not "maybe"`,
		`line 16:5: rule "odd" has no match; write match: {always: true} to match every series`,
		`line 17:5: unknown key "mach" in a rule; expected name, description, match, actions or stop`,
	}
	got := problems(t, src)
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestParseEmbedded: the configuration hands Parse the node of its routing
// section; problems carry the lines of the whole file.
func TestParseEmbedded(t *testing.T) {
	src := `node:
  ae_title: TWEEDIE
routing:
  rules:
    - name: mr
      match: {Modality: {equals: MR}}
      actions: [{forward: {destinations: [pacs]}}]
  fallback: [{discard: {}}]
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	routing := doc.Content[0].Content[3]
	s, err := Parse(routing)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Rules(); len(r) != 1 || r[0].Name != "mr" || r[0].Line != 5 || r[0].Column != 7 {
		t.Errorf("rules %+v", r)
	}
	bad := strings.Replace(src, "equals: MR", "equals: MR, foo: 1", 1)
	if err := yaml.Unmarshal([]byte(bad), &doc); err != nil {
		t.Fatal(err)
	}
	_, err = Parse(doc.Content[0].Content[3])
	if err == nil || err.Error() != `line 6:38: unknown operator "foo"; expected equals, in, regex, exists, lt, le, gt, ge, cidr (with ignore_case or all_values)` {
		t.Errorf("got %v", err)
	}
	if _, err := Parse(nil); err == nil || err.Error() != "no rules section" {
		t.Errorf("Parse(nil) = %v", err)
	}
}

func TestParseResult(t *testing.T) {
	s, err := ParseBytes([]byte(`rules:
  - name: mr
    description: raw k-space
    match: {Modality: {equals: MR}}
    actions:
      - reconstruct:
          reconstructor: mri-diffusion
          params: {steps: 100, lambda: 0.01, coils: "all", flag: true}
          destinations: &dests [pacs, archive]
      - forward: {destinations: *dests}
    stop: true
  - name: ct
    match: {Modality: {equals: CT}}
    actions:
      - reconstruct: {reconstructor: ct-diffusion, destinations: [pacs]}
      - reconstruct: {reconstructor: mri-diffusion, destinations: [research]}
fallback:
  - forward: {destinations: [quarantine]}
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := s.Rules()
	if len(rules) != 2 {
		t.Fatalf("%d rules", len(rules))
	}
	r := rules[0]
	if r.Name != "mr" || r.Description != "raw k-space" || !r.Stop || r.Line != 2 || r.Column != 5 || len(r.Actions) != 2 {
		t.Errorf("rule %+v", r)
	}
	a := r.Actions[0]
	if a.Kind != Reconstruct || a.Reconstructor != "mri-diffusion" || a.Rule != "mr" || a.Line != 6 || a.Column != 9 ||
		!slices.Equal(a.Destinations, []string{"pacs", "archive"}) ||
		a.Params["steps"] != "100" || a.Params["lambda"] != "0.01" || a.Params["coils"] != "all" || a.Params["flag"] != "true" || len(a.Params) != 4 {
		t.Errorf("action %+v", a)
	}
	if f := r.Actions[1]; f.Kind != Forward || !slices.Equal(f.Destinations, []string{"pacs", "archive"}) {
		t.Errorf("aliased destinations %+v", f)
	}
	if rules[1].Stop {
		t.Error("stop defaults to false")
	}
	if got := s.Destinations(); !slices.Equal(got, []string{"archive", "pacs", "quarantine", "research"}) {
		t.Errorf("Destinations() = %q", got)
	}
	if got := s.Reconstructors(); !slices.Equal(got, []string{"ct-diffusion", "mri-diffusion"}) {
		t.Errorf("Reconstructors() = %q", got)
	}
	if fb := s.Fallback(); len(fb) != 1 || fb[0].Kind != Forward || fb[0].Rule != "" || fb[0].Line != 18 {
		t.Errorf("fallback %+v", fb)
	}

	known := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	if err := s.CheckNames(known("pacs", "archive", "quarantine", "research"), known("ct-diffusion", "mri-diffusion")); err != nil {
		t.Errorf("CheckNames: %v", err)
	}
	err = s.CheckNames(known("pacs", "quarantine"), known("ct-diffusion"))
	want := `line 7:26: reconstructor "mri-diffusion" is not configured
line 9:39: destination "archive" is not configured
line 16:38: reconstructor "mri-diffusion" is not configured
line 16:68: destination "research" is not configured`
	var pe *ParseError
	if !errors.As(err, &pe) || err.Error() != want {
		t.Errorf("CheckNames:\n%v\nwant\n%s", err, want)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level doubles the conditions; aliases must not let a small
	// file expand without bound.
	var b strings.Builder
	b.WriteString("c00: &c00 {Modality: {equals: MR}}\n")
	for i := 1; i <= 40; i++ {
		b.WriteString("c" + itoa(i) + ": &c" + itoa(i) + " {all: [*c" + itoa(i-1) + ", *c" + itoa(i-1) + "]}\n")
	}
	src := "defs:\n" + indent(b.String()) + "rules:\n  - {name: a, match: *c40, actions: [{discard: {}}]}\n" + fb
	got := problems(t, src)
	want := []string{
		`line 1:1: unknown key "defs" in the rules section; expected rules or fallback`,
		`line 2:8: the rules are too large (over 65536 conditions and actions, aliases expanded)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestRecursiveAlias(t *testing.T) {
	src := "rules:\n  - name: a\n    match: &m {not: *m}\n    actions: [{discard: {}}]\n" + fb
	got := problems(t, src)
	if len(got) != 1 || !strings.Contains(got[0], "nested more than 64 deep") {
		t.Errorf("got %q", got)
	}
}

func itoa(i int) string {
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
