package conf

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration: where it is (1-based
// line and column, 0 when unknown), which key (a dotted path such as
// node.max_pdu or destinations[1].port; "routing" for the rules section;
// empty when no key is known) and what is wrong, in words an operator can
// act on. It is what rules.Problem is for a rules section, with the key.
type Problem struct {
	Line, Col int
	Path      string
	Msg       string
}

// String writes "line L:C: path: message", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Line > 0 && p.Col > 0:
		fmt.Fprintf(&b, "line %d:%d: ", p.Line, p.Col)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem of one configuration, in the order of their
// position (those without one last). Load, LoadChecked and Parse return
// it; errors.As finds the list.
type Error struct {
	// Name is the file's name as given, or "defaults".
	Name     string
	Problems []Problem
}

// Error writes one problem a line, each as "NAME: line L:C: path: message".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.Name + ": " + p.String()
	}
	return strings.Join(lines, "\n")
}

// SortProblems orders problems by line and column, those without a line
// last, keeping the order of equals.
func SortProblems(ps []Problem) {
	key := func(p Problem) int {
		if p.Line <= 0 {
			return int(^uint(0) >> 1)
		}
		return p.Line
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.Col, b.Col))
	})
}

// typeError is a value's problem found by an UnmarshalYAML method: a
// yaml.TypeError lets the decoder go on and report the rest too. yaml.v3
// carries a TypeError's problems as text in its own form "line N: …", so
// the line is written that way and read back once, in decodeProblem.
func typeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

var (
	yamlTypeLine  = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownAt = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// decodeProblem turns one of yaml.v3's TypeError messages ("line N: …",
// the only form the library gives them in) into a Problem, with the key
// written on that line as its path and column where that key is certain.
func decodeProblem(msg string, lines map[string]pos) Problem {
	m := yamlTypeLine.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	p := Problem{Line: line, Msg: m[2]}
	field := ""
	if u := yamlUnknownAt.FindStringSubmatch(m[2]); u != nil {
		field = u[1]
		p.Msg = "unknown key"
	}
	var at []string
	for k, kp := range lines {
		if kp.line != line {
			continue
		}
		if field != "" && k != field && !strings.HasSuffix(k, "."+field) {
			continue
		}
		at = append(at, k)
	}
	// A flow mapping ({a: 1, b: x}) puts several keys on one line: then
	// only the line is certain.
	if len(at) == 1 {
		p.Path, p.Col = displayPath(at[0]), lines[at[0]].col
	}
	return p
}

// displayPath writes the index path "destinations.1.port" as validate
// does, "destinations[1].port".
func displayPath(k string) string {
	parts := strings.Split(k, ".")
	var b strings.Builder
	for i, s := range parts {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteString(".")
		}
		b.WriteString(s)
	}
	return b.String()
}
