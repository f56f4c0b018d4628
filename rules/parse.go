package rules

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a rules section. Line and Column are
// 1-based; 0 means unknown (YAML syntax errors carry a line only).
type Problem struct {
	Line, Column int
	Msg          string
}

func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return fmt.Sprintf("line %d:%d: %s", p.Line, p.Column, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// ParseError lists every problem found in a rules section, in the order
// of their position.
type ParseError struct {
	Problems []Problem
}

// Error writes one problem a line, as "line L:C: message".
func (e *ParseError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// ParseBytes parses a standalone rules file: one YAML document whose top
// level is the rules section (see Parse).
func ParseBytes(b []byte) (*Set, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{[]Problem{{1, 1, "the rules file is empty; it needs at least a fallback"}}}
		}
		return nil, &ParseError{[]Problem{syntaxProblem(err)}}
	}
	var extra []Problem
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		extra = append(extra, Problem{next.Line, next.Column, "a rules file holds one YAML document; remove this one or the ---"})
	case !errors.Is(err, io.EOF):
		extra = append(extra, syntaxProblem(err))
	}
	s, err := Parse(&doc)
	if len(extra) == 0 {
		return s, err
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		extra = append(pe.Problems, extra...)
	}
	sortProblems(extra)
	return nil, &ParseError{extra}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserHints are the messages of yaml.v3's parser (as opposed to its
// scanner). The parser reports a 0-based line: that of the enclosing
// collection's start where there is one, hence the hints.
var parserHints = map[string]string{
	"did not find expected '-' indicator":    "; check the indentation of the list that starts on this line",
	"did not find expected key":              "; check the indentation of the mapping that starts on this line",
	"did not find expected ',' or ']'":       " in the [...] list that starts on this line",
	"did not find expected ',' or '}'":       " in the {...} mapping that starts on this line",
	"did not find expected node content":     "",
	"found undefined tag handle":             "",
	"did not find expected <document start>": "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found duplicate %TAG directive":         "",
}

func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		hint, parser := parserHints[m[2]]
		if parser {
			n++
		}
		return Problem{Line: n, Msg: "YAML syntax: " + m[2] + hint}
	}
	return Problem{Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Parse parses a rules section: a mapping with the keys `rules` (a list
// of rules, may be left out) and `fallback` (a list of actions, required).
// node may be a document node. Every problem is reported, in one
// *ParseError.
func Parse(node *yaml.Node) (*Set, error) {
	p := &parser{names: map[string]int{}, lookups: map[string]lookedUp{}}
	s := p.section(node)
	if len(p.problems) > 0 {
		sortProblems(p.problems)
		return nil, &ParseError{p.problems}
	}
	return s, nil
}

const (
	maxDepth = 64      // nesting of conditions
	maxNodes = 1 << 16 // conditions and actions, aliases expanded
)

type parser struct {
	problems []Problem
	names    map[string]int // rule name → line
	nodes    int
	tooBig   bool
	lookups  map[string]lookedUp // the dictionary lookup is a linear scan
}

type lookedUp struct {
	key  string
	info *tag.Info
	err  error
}

func (p *parser) lookup(attr string) (string, *tag.Info, error) {
	if r, ok := p.lookups[attr]; ok {
		return r.key, r.info, r.err
	}
	key, info, err := lookup(attr)
	p.lookups[attr] = lookedUp{key, info, err}
	return key, info, err
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.problems = append(p.problems, Problem{n.Line, n.Column, fmt.Sprintf(format, args...)})
}

// count charges one node against maxNodes, so that aliases cannot expand
// a small file into a huge rule tree.
func (p *parser) count(n *yaml.Node) bool {
	p.nodes++
	if p.nodes > maxNodes {
		if !p.tooBig {
			p.errorf(n, "the rules are too large (over %d conditions and actions, aliases expanded)", maxNodes)
			p.tooBig = true
		}
		return false
	}
	return true
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// kindName names what was found, for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

type field struct{ key, val *yaml.Node }

// fields reads a mapping, reporting non-scalar, duplicate and unknown
// keys. what names the mapping in messages ("a rule").
func (p *parser) fields(n *yaml.Node, what string, known ...string) map[string]field {
	out := map[string]field{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "a key in %s must be a name, not %s", what, kindName(k))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			p.errorf(k, "%s has %q twice (first at line %d)", what, k.Value, prev.key.Line)
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.errorf(k, "unknown key %q in %s; expected %s", k.Value, what, orList(known))
			continue
		}
		out[k.Value] = field{k, v}
	}
	return out
}

func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func (p *parser) section(node *yaml.Node) *Set {
	if node == nil {
		p.problems = append(p.problems, Problem{Msg: "no rules section"})
		return nil
	}
	n := node
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			p.problems = append(p.problems, Problem{1, 1, "the rules section is empty; it needs at least a fallback"})
			return nil
		}
		n = n.Content[0]
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "the rules section must be a mapping with rules and fallback, not %s", kindName(n))
		return nil
	}
	f := p.fields(n, "the rules section", "rules", "fallback")
	s := &Set{}
	if r, ok := f["rules"]; ok {
		switch {
		case isNull(r.val):
		case r.val.Kind != yaml.SequenceNode:
			p.errorf(r.val, "rules must be a list of rules, not %s", kindName(r.val))
		default:
			for _, rn := range r.val.Content {
				if rule, ok := p.rule(deref(rn)); ok {
					s.rules = append(s.rules, rule)
				}
			}
		}
	}
	fb, ok := f["fallback"]
	if !ok {
		p.errorf(n, "no fallback: say what happens to a series no rule matches, e.g. fallback: [{discard: {}}]")
		return s
	}
	s.fallback = p.actions(fb.val, "fallback", "")
	return s
}

var ruleKeys = []string{"name", "description", "match", "actions", "stop"}

func (p *parser) rule(n *yaml.Node) (Rule, bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "a rule must be a mapping with name, match and actions, not %s", kindName(n))
		return Rule{}, false
	}
	f := p.fields(n, "a rule", ruleKeys...)
	r := Rule{Line: n.Line, Column: n.Column}
	ok := true
	if nf, has := f["name"]; !has {
		p.errorf(n, "a rule needs a name")
		ok = false
	} else if name, good := p.str(nf.val, "name"); !good {
		ok = false
	} else if strings.TrimSpace(name) == "" {
		p.errorf(nf.val, "the rule name is empty")
		ok = false
	} else {
		if line, dup := p.names[name]; dup {
			p.errorf(nf.val, "rule name %q is already used at line %d", name, line)
			ok = false
		} else {
			p.names[name] = nf.val.Line
		}
		r.Name = name
	}
	if df, has := f["description"]; has {
		r.Description, _ = p.str(df.val, "description")
	}
	if sf, has := f["stop"]; has {
		r.Stop, _ = p.boolean(sf.val, "stop")
	}
	label := "this rule"
	if r.Name != "" {
		label = fmt.Sprintf("rule %q", r.Name)
	}
	if mf, has := f["match"]; !has {
		p.errorf(n, "%s has no match; write match: {always: true} to match every series", label)
		ok = false
	} else if isNull(mf.val) || (mf.val.Kind == yaml.MappingNode && len(mf.val.Content) == 0) {
		r.match = alwaysCond{true, "always (empty match)"}
	} else if r.match = p.cond(mf.val, 0); r.match == nil {
		ok = false
	}
	if af, has := f["actions"]; !has {
		p.errorf(n, "%s has no actions", label)
		ok = false
	} else if r.Actions = p.actions(af.val, label, r.Name); r.Actions == nil {
		ok = false
	}
	return r, ok
}

// str reads a string scalar.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, "%s must be a single value, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// name reads a non-empty name (destination, reconstructor, parameter).
func (p *parser) name(n *yaml.Node, what string) (string, bool) {
	s, ok := p.str(n, what)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, "%s is empty", what)
		return "", false
	}
	return s, ok
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b, true
		}
	}
	p.errorf(n, "%s must be true or false, not %s", what, kindName(n))
	return false, false
}

// cond compiles a condition; nil when it has problems (all reported).
func (p *parser) cond(n *yaml.Node, depth int) cond {
	n = deref(n)
	if !p.count(n) {
		return nil
	}
	if depth > maxDepth {
		p.errorf(n, "conditions are nested more than %d deep", maxDepth)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "a condition must be a mapping like {Modality: {equals: MR}} or {all: [...]}, not %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "empty condition; write {always: true} to match everything")
		return nil
	}
	if len(n.Content) > 2 {
		var keys []string
		for i := 0; i < len(n.Content); i += 2 {
			keys = append(keys, deref(n.Content[i]).Value)
		}
		p.errorf(deref(n.Content[2]), "a condition has one key, this one has %d (%s); put them in all: [...] or any: [...]",
			len(keys), strings.Join(keys, ", "))
		return nil
	}
	k, v := deref(n.Content[0]), deref(n.Content[1])
	if k.Kind != yaml.ScalarNode {
		p.errorf(k, "a condition's key must be a name, not %s", kindName(k))
		return nil
	}
	switch k.Value {
	case "all", "any":
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, "%s must be a list of conditions, not %s", k.Value, kindName(v))
			return nil
		}
		if len(v.Content) == 0 {
			p.errorf(v, "%s has no conditions", k.Value)
			return nil
		}
		subs := make([]cond, 0, len(v.Content))
		good := true
		for _, c := range v.Content {
			if p.tooBig {
				return nil
			}
			sub := p.cond(c, depth+1)
			good = good && sub != nil
			subs = append(subs, sub)
		}
		if !good {
			return nil
		}
		if k.Value == "all" {
			return allCond(subs)
		}
		return anyCond(subs)
	case "not":
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "not takes one condition (a mapping), not %s; negate several with not: {any: [...]}", kindName(v))
			return nil
		}
		sub := p.cond(v, depth+1)
		if sub == nil {
			return nil
		}
		return notCond{sub}
	case "always":
		b, ok := p.boolean(v, "always")
		if !ok {
			return nil
		}
		if b {
			return alwaysCond{true, "always"}
		}
		return alwaysCond{false, "always: false"}
	}
	return p.compare(k, v)
}

// compare compiles `ATTRIBUTE: {OPERATOR: OPERAND, [ignore_case: B], [all_values: B]}`.
func (p *parser) compare(k, v *yaml.Node) cond {
	c := &compare{attr: k.Value}
	good := true
	if ps, ok := pseudoNames[k.Value]; ok {
		c.pseudo = ps
	} else if key, info, err := p.lookup(k.Value); err != nil {
		if _, unknown := err.(unknownAttrError); unknown {
			p.errorf(k, "%v, nor calling_ae, called_ae or peer_address", err)
		} else {
			p.errorf(k, "%v", err)
		}
		good = false
	} else if info != nil && slices.Contains(info.VRs, "SQ") {
		p.errorf(k, "%s is a sequence; rules match top-level attributes only", key)
		good = false
	} else {
		c.attr = key
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s must be followed by a mapping of operator to value, like {equals: MR}, not %s", k.Value, kindName(v))
		return nil
	}
	var opKey, operand *yaml.Node
	var ignoreCase, allValues field
	for i := 0; i+1 < len(v.Content); i += 2 {
		kn, vn := deref(v.Content[i]), deref(v.Content[i+1])
		switch {
		case kn.Kind != yaml.ScalarNode:
			p.errorf(kn, "an operator must be a name, not %s", kindName(kn))
			good = false
		case kn.Value == "ignore_case" || kn.Value == "all_values":
			slot := &ignoreCase
			if kn.Value == "all_values" {
				slot = &allValues
			}
			if slot.key != nil {
				p.errorf(kn, "%s is given twice", kn.Value)
				good = false
			}
			*slot = field{kn, vn}
		case opNames[kn.Value] != 0:
			if opKey != nil {
				p.errorf(kn, "%s already has the operator %s; compare with one operator and combine with all: or any:", k.Value, opKey.Value)
				good = false
				continue
			}
			opKey, operand = kn, vn
		default:
			p.errorf(kn, "unknown operator %q; expected %s (with ignore_case or all_values)", kn.Value, opList)
			good = false
		}
	}
	if opKey == nil {
		if good {
			p.errorf(v, "no operator for %s; expected one of %s", k.Value, opList)
		}
		return nil
	}
	c.op = opNames[opKey.Value]
	if ignoreCase.key != nil {
		b, ok := p.boolean(ignoreCase.val, "ignore_case")
		good = good && ok
		c.ignoreCase = b
		if c.op != opEquals && c.op != opIn && c.op != opRegex {
			p.errorf(ignoreCase.key, "ignore_case applies to equals, in and regex, not %s", opKey.Value)
			good = false
		}
	}
	if allValues.key != nil {
		b, ok := p.boolean(allValues.val, "all_values")
		good = good && ok
		c.allValues = b
		if c.op == opExists {
			p.errorf(allValues.key, "all_values does not apply to exists")
			good = false
		}
	}
	shown, ok := p.operand(c, k, opKey, operand)
	if !good || !ok {
		return nil
	}
	c.desc = fmt.Sprintf("%s %s %s", c.attr, opKey.Value, shown)
	if c.ignoreCase {
		c.desc += " ignore_case"
	}
	if c.allValues {
		c.desc += " all_values"
	}
	return c
}

// operand compiles the operator's operand into c and returns it as shown in
// explanations.
func (p *parser) operand(c *compare, k, opKey, operand *yaml.Node) (shown string, good bool) {
	good = true
	switch c.op {
	case opEquals:
		s, ok := p.str(operand, "equals")
		good = good && ok
		c.text = trimValue(s)
		shown = quote(c.text)
	case opIn:
		items := p.list(operand, "in")
		if items == nil {
			good = false
		}
		var q []string
		for _, it := range items {
			s, ok := p.str(it, "an in list item")
			good = good && ok
			c.set = append(c.set, trimValue(s))
			q = append(q, quote(trimValue(s)))
		}
		shown = "[" + strings.Join(q, ", ") + "]"
	case opRegex:
		s, ok := p.str(operand, "regex")
		if !ok {
			good = false
			break
		}
		expr := s
		if c.ignoreCase {
			expr = "(?i)" + s
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			p.errorf(operand, "bad regex %q: %s", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			good = false
		}
		c.re = re
		shown = quote(s)
	case opExists:
		b, ok := p.boolean(operand, "exists")
		good = good && ok
		c.exists = b
		shown = strconv.FormatBool(b)
	case opLT, opLE, opGT, opGE:
		s, ok := p.str(operand, opKey.Value)
		if !ok {
			good = false
			break
		}
		x, isNum := number(strings.TrimSpace(s))
		if !isNum {
			p.errorf(operand, "%s needs a decimal number like 2.5 or -1e3, not %q", opKey.Value, s)
			good = false
		}
		c.num = x
		shown = strings.TrimSpace(s)
	case opCIDR:
		if c.pseudo != pseudoPeer {
			p.errorf(opKey, "cidr applies to peer_address only, not %s", k.Value)
			good = false
		}
		items := []*yaml.Node{operand}
		if operand.Kind == yaml.SequenceNode {
			items = p.list(operand, "cidr")
			if items == nil {
				good = false
			}
		}
		var q []string
		for _, it := range items {
			s, ok := p.str(it, "cidr")
			if !ok {
				good = false
				continue
			}
			pre, err := parsePrefix(strings.TrimSpace(s))
			if err != nil {
				p.errorf(it, "%q is not an address or CIDR prefix like 10.0.0.0/8", s)
				good = false
				continue
			}
			c.nets = append(c.nets, pre)
			q = append(q, pre.String())
		}
		shown = strings.Join(q, ", ")
		if operand.Kind == yaml.SequenceNode {
			shown = "[" + shown + "]"
		}
	}
	return shown, good
}

// list reads a non-empty sequence; nil on problems.
func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "%s is an empty list", what)
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

var actionNames = []string{"reconstruct", "forward", "discard", "keep"}

// actions reads a non-empty list of actions; nil on problems. owner names
// the list in messages; rule is stored in each action.
func (p *parser) actions(n *yaml.Node, owner, rule string) []Action {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "the actions of %s must be a list, like [{forward: {destinations: [pacs]}}], not %s", owner, kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "%s has no actions; to drop series write [{discard: {}}]", owner)
		return nil
	}
	var out []Action
	good := true
	var discardAt *yaml.Node
	for _, an := range n.Content {
		an = deref(an)
		if !p.count(an) {
			return nil
		}
		a, ok := p.action(an, rule)
		if !ok {
			good = false
			continue
		}
		if a.Kind == Discard && discardAt == nil {
			discardAt = an
		}
		out = append(out, a)
	}
	if discardAt != nil && len(n.Content) > 1 {
		p.errorf(discardAt, "discard cannot be combined with other actions in %s", owner)
		good = false
	}
	if !good {
		return nil
	}
	return out
}

func (p *parser) action(n *yaml.Node, rule string) (Action, bool) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		p.errorf(n, "an action is a mapping with one of %s, like {forward: {destinations: [pacs]}}; found %s",
			orList(actionNames), kindName(n))
		return Action{}, false
	}
	k, v := deref(n.Content[0]), deref(n.Content[1])
	a := Action{Rule: rule, Line: k.Line, Column: k.Column}
	if k.Kind != yaml.ScalarNode || !slices.Contains(actionNames, k.Value) {
		p.errorf(k, "unknown action %s; expected %s", kindName(k), orList(actionNames))
		return a, false
	}
	what := k.Value
	if isNull(v) && (what == "discard" || what == "keep") {
		return Action{Kind: Discard, Keep: what == "keep", Rule: rule, Line: k.Line, Column: k.Column}, true
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s must be a mapping, not %s", what, kindName(v))
		return a, false
	}
	good := true
	switch what {
	case "discard", "keep":
		a.Kind, a.Keep = Discard, what == "keep"
		f := p.fields(v, what, "reason")
		good = len(f) == len(v.Content)/2
		if r, ok := f["reason"]; ok {
			a.Reason, ok = p.str(r.val, "reason")
			good = good && ok
		}
		return a, good
	case "forward":
		a.Kind = Forward
		f := p.fields(v, "forward", "destinations")
		good = len(f) == len(v.Content)/2
		good = p.destinations(v, f, &a) && good
	case "reconstruct":
		a.Kind = Reconstruct
		f := p.fields(v, "reconstruct", "reconstructor", "params", "destinations")
		good = len(f) == len(v.Content)/2
		if r, ok := f["reconstructor"]; !ok {
			p.errorf(v, "reconstruct needs a reconstructor")
			good = false
		} else {
			a.Reconstructor, ok = p.name(r.val, "reconstructor")
			a.reconstructorAt = pos{r.val.Line, r.val.Column}
			good = good && ok
		}
		if pf, ok := f["params"]; ok {
			good = p.params(pf.val, &a) && good
		}
		good = p.destinations(v, f, &a) && good
	}
	return a, good
}

func (p *parser) destinations(v *yaml.Node, f map[string]field, a *Action) bool {
	d, ok := f["destinations"]
	if !ok {
		p.errorf(v, "%s needs destinations", a.Kind)
		return false
	}
	items := p.list(d.val, "destinations")
	if items == nil {
		return false
	}
	good := true
	seen := map[string]int{}
	for _, it := range items {
		name, ok := p.name(it, "a destination")
		if !ok {
			good = false
			continue
		}
		if line, dup := seen[name]; dup {
			p.errorf(it, "destination %q is listed twice (first at line %d)", name, line)
			good = false
			continue
		}
		seen[name] = it.Line
		a.Destinations = append(a.Destinations, name)
		a.destinationsAt = append(a.destinationsAt, pos{it.Line, it.Column})
	}
	return good
}

// params reads the reconstructor's parameters: a mapping of names to
// single values, kept as written.
func (p *parser) params(n *yaml.Node, a *Action) bool {
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "params must be a mapping of name to value, not %s", kindName(n))
		return false
	}
	good := true
	a.Params = map[string]string{}
	a.paramsAt, a.paramAt = pos{n.Line, n.Column}, map[string]pos{}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		name, ok := p.name(k, "a parameter name")
		if !ok {
			good = false
			continue
		}
		if line, dup := keyLine[name]; dup {
			p.errorf(k, "parameter %q is given twice (first at line %d)", name, line)
			good = false
			continue
		}
		keyLine[name] = k.Line
		a.paramAt[name] = pos{k.Line, k.Column}
		val, ok := p.str(v, "parameter "+name)
		if !ok {
			good = false
			continue
		}
		a.Params[name] = val
	}
	return good
}

// SyntaxProblem is the Problem of a yaml.v3 syntax error, with the line
// corrected for the parser's 0-based ones and a hint where one helps; conf
// reports a configuration file's syntax errors with it.
func SyntaxProblem(err error) Problem { return syntaxProblem(err) }
