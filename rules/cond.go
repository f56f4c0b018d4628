package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// env is what conditions are evaluated against.
type env struct {
	subj   Subject
	pseudo [numPseudo][]string
}

// values returns an attribute's values with their padding trimmed. A
// present attribute with no values reads as one empty value, so that
// `equals: ""` matches it.
func (e *env) values(c *compare) ([]string, bool) {
	if c.pseudo != notPseudo {
		v := e.pseudo[c.pseudo]
		return v, v != nil
	}
	if e.subj == nil {
		return nil, false
	}
	vals, ok := e.subj.Values(c.attr)
	if !ok {
		return nil, false
	}
	if len(vals) == 0 {
		return []string{""}, true
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = trimValue(v)
	}
	return out, true
}

// cond is a compiled condition. eval returns whether it holds and why, as
// lines that are all true when it holds and all false when it does not:
// the conditions that decided, each with the values it saw.
type cond interface {
	eval(e *env) (bool, []string)
}

type allCond []cond

// eval: every condition holds; the reasons are all of them, or the first
// that fails.
func (c allCond) eval(e *env) (bool, []string) {
	var why []string
	for _, sub := range c {
		ok, w := sub.eval(e)
		if !ok {
			return false, w
		}
		why = append(why, w...)
	}
	return true, why
}

type anyCond []cond

// eval: some condition holds; the reason is the first that holds, or all
// of them when none does.
func (c anyCond) eval(e *env) (bool, []string) {
	var why []string
	for _, sub := range c {
		ok, w := sub.eval(e)
		if ok {
			return true, w
		}
		why = append(why, w...)
	}
	return false, why
}

type notCond struct{ sub cond }

// eval negates. The inner reasons are all true (joined by "and") when the
// inner condition held, all false (joined by "or") when it did not.
func (c notCond) eval(e *env) (bool, []string) {
	ok, w := c.sub.eval(e)
	sep := " or "
	if ok {
		sep = " and "
	}
	text := strings.Join(w, sep)
	if len(w) != 1 {
		text = "(" + text + ")"
	}
	return !ok, []string{"not " + text}
}

type alwaysCond struct {
	v    bool
	text string
}

func (c alwaysCond) eval(*env) (bool, []string) { return c.v, []string{c.text} }

// op is a comparison operator.
type op int

const (
	opEquals op = iota + 1
	opIn
	opRegex
	opExists
	opLT
	opLE
	opGT
	opGE
	opCIDR
)

var opNames = map[string]op{
	"equals": opEquals, "in": opIn, "regex": opRegex, "exists": opExists,
	"lt": opLT, "le": opLE, "gt": opGT, "ge": opGE, "cidr": opCIDR,
}

const opList = "equals, in, regex, exists, lt, le, gt, ge, cidr"

// compare is one attribute compared by one operator.
type compare struct {
	attr   string // canonical key, or the pseudo-attribute's name
	pseudo pseudo
	op     op

	text       string   // equals
	set        []string // in
	re         *regexp.Regexp
	num        float64 // lt, le, gt, ge
	exists     bool
	nets       []netip.Prefix
	ignoreCase bool
	allValues  bool

	desc string // "Modality equals \"MR\"", for explanations
}

// test compares one (trimmed) value.
func (c *compare) test(v string) bool {
	switch c.op {
	case opEquals:
		return same(v, c.text, c.ignoreCase)
	case opIn:
		for _, s := range c.set {
			if same(v, s, c.ignoreCase) {
				return true
			}
		}
		return false
	case opRegex:
		return c.re.MatchString(v)
	case opLT, opLE, opGT, opGE:
		x, ok := number(v)
		if !ok {
			return false
		}
		switch c.op {
		case opLT:
			return x < c.num
		case opLE:
			return x <= c.num
		case opGT:
			return x > c.num
		default:
			return x >= c.num
		}
	case opCIDR:
		a, err := netip.ParseAddr(v) // peer_address, already unmapped and without zone
		if err != nil {
			return false
		}
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return false
}

func same(a, b string, ignoreCase bool) bool {
	if ignoreCase {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func (c *compare) eval(e *env) (bool, []string) {
	vals, present := e.values(c)
	if c.op == opExists {
		shown := "absent"
		if present {
			shown = showValues(vals)
		}
		return present == c.exists, []string{c.desc + " (" + shown + ")"}
	}
	if !present {
		return false, []string{c.desc + " (absent)"}
	}
	if c.allValues {
		for _, v := range vals {
			if !c.test(v) {
				return false, []string{c.desc + " (" + showValues([]string{v}) + c.numberNote([]string{v}) + ")"}
			}
		}
		return true, []string{c.desc + " (" + showValues(vals) + ")"}
	}
	for _, v := range vals {
		if c.test(v) {
			return true, []string{c.desc + " (" + showValues([]string{v}) + ")"}
		}
	}
	return false, []string{c.desc + " (" + showValues(vals) + c.numberNote(vals) + ")"}
}

// numberNote says why a numeric comparison failed when no value was a
// number.
func (c *compare) numberNote(vals []string) string {
	switch c.op {
	case opLT, opLE, opGT, opGE:
	default:
		return ""
	}
	for _, v := range vals {
		if _, ok := number(v); ok {
			return ""
		}
	}
	if len(vals) == 1 {
		return ", not a number"
	}
	return ", none a number"
}

const (
	maxShownValues = 8
	maxShownRunes  = 64
)

// showValues writes `value "MR"` or `values "A", "B"`, shortened.
func showValues(vals []string) string {
	var b strings.Builder
	if len(vals) == 1 {
		b.WriteString("value ")
	} else {
		b.WriteString("values ")
	}
	for i, v := range vals {
		if i == maxShownValues {
			fmt.Fprintf(&b, ", … (%d values)", len(vals))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(v))
	}
	return b.String()
}

// quote is %q shortened to maxShownRunes runes.
func quote(s string) string {
	if r := []rune(s); len(r) > maxShownRunes {
		return fmt.Sprintf("%q…", string(r[:maxShownRunes]))
	}
	return fmt.Sprintf("%q", s)
}
