package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Set is a parsed rule list with its fallback. It is immutable, and
// Evaluate is safe for concurrent use.
type Set struct {
	rules    []Rule
	fallback []Action
}

// Rule is one parsed rule. Line and Column are where it starts in the YAML.
type Rule struct {
	Name        string
	Description string
	Stop        bool
	Actions     []Action
	Line        int
	Column      int

	match cond
}

// ActionKind says what an action does.
type ActionKind int

const (
	// Reconstruct runs a reconstructor on the series and sends its output
	// to the destinations.
	Reconstruct ActionKind = iota + 1
	// Forward sends the series as received to the destinations.
	Forward
	// Discard asks for nothing to be done (see Decision.Actions).
	Discard
)

func (k ActionKind) String() string {
	switch k {
	case Reconstruct:
		return "reconstruct"
	case Forward:
		return "forward"
	case Discard:
		return "discard"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one thing to do with a series.
type Action struct {
	Kind          ActionKind
	Reconstructor string            // Reconstruct
	Params        map[string]string // Reconstruct; values as written in the YAML
	Destinations  []string          // Reconstruct, Forward
	Reason        string            // Discard, optional
	// Keep (written "keep: {reason: …}") is a Discard that keeps the series
	// for a while instead of deleting it at once: the gateway moves it to
	// STATE/unrouted and removes it after series.unrouted_retention, with an
	// audit event each time. It is the embedded default's fallback.
	Keep         bool
	Rule         string // the rule that chose it; "" for the fallback
	Line, Column int    // where the action is written

	reconstructorAt pos
	destinationsAt  []pos
	paramsAt        pos            // the params mapping
	paramAt         map[string]pos // each parameter's key
}

type pos struct{ line, column int }

// String writes the action on one line, e.g.
// "reconstruct with cs-sense (iterations=30) to pacs, archive".
func (a Action) String() string {
	var b strings.Builder
	b.WriteString(a.Kind.String())
	switch a.Kind {
	case Reconstruct:
		b.WriteString(" with " + a.Reconstructor)
		if len(a.Params) > 0 {
			keys := slices.Sorted(maps.Keys(a.Params))
			b.WriteString(" (")
			for i, k := range keys {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(k + "=" + a.Params[k])
			}
			b.WriteString(")")
		}
		b.WriteString(" to " + strings.Join(a.Destinations, ", "))
	case Forward:
		b.WriteString(" to " + strings.Join(a.Destinations, ", "))
	case Discard:
		if a.Keep {
			b.Reset()
			b.WriteString("keep (")
			if a.Reason != "" {
				b.WriteString(a.Reason + "; ")
			}
			b.WriteString("discarded after series.unrouted_retention)")
		} else if a.Reason != "" {
			b.WriteString(" (" + a.Reason + ")")
		}
	}
	return b.String()
}

// sameAction reports whether two actions do the same thing, whichever rule
// chose them.
func sameAction(a, b Action) bool {
	return a.Kind == b.Kind && a.Reconstructor == b.Reconstructor &&
		maps.Equal(a.Params, b.Params) && slices.Equal(a.Destinations, b.Destinations) &&
		(a.Kind != Discard || (a.Reason == b.Reason && a.Keep == b.Keep))
}

// Rules returns the rules in order. The caller must not modify them.
func (s *Set) Rules() []Rule { return slices.Clone(s.rules) }

// Fallback returns the actions taken when no rule matches. The caller must
// not modify them.
func (s *Set) Fallback() []Action { return slices.Clone(s.fallback) }

// allActions yields every action of the rules and the fallback.
func (s *Set) allActions(yield func(Action) bool) {
	for _, r := range s.rules {
		for _, a := range r.Actions {
			if !yield(a) {
				return
			}
		}
	}
	for _, a := range s.fallback {
		if !yield(a) {
			return
		}
	}
}

// Destinations returns the destination names the rules use, sorted, each
// once, for the configuration to check against its destinations.
func (s *Set) Destinations() []string {
	seen := map[string]bool{}
	for a := range s.allActions {
		for _, d := range a.Destinations {
			seen[d] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Reconstructors returns the reconstructor names the rules use, sorted,
// each once.
func (s *Set) Reconstructors() []string {
	seen := map[string]bool{}
	for a := range s.allActions {
		if a.Kind == Reconstruct {
			seen[a.Reconstructor] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// CheckNames reports, as a *ParseError with the line of each use, every
// destination for which isDestination is false and every reconstructor for
// which isReconstructor is false; nil when all are known.
func (s *Set) CheckNames(isDestination, isReconstructor func(name string) bool) error {
	var probs []Problem
	for a := range s.allActions {
		if a.Kind == Reconstruct && !isReconstructor(a.Reconstructor) {
			probs = append(probs, Problem{a.reconstructorAt.line, a.reconstructorAt.column,
				fmt.Sprintf("reconstructor %q is not configured", a.Reconstructor)})
		}
		for i, d := range a.Destinations {
			if !isDestination(d) {
				at := pos{a.Line, a.Column}
				if i < len(a.destinationsAt) {
					at = a.destinationsAt[i]
				}
				probs = append(probs, Problem{at.line, at.column, fmt.Sprintf("destination %q is not configured", d)})
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sortProblems(probs)
	// An aliased list (destinations: *d) is the same node twice.
	return &ParseError{Problems: slices.Compact(probs)}
}

// ParamProblem is a problem with a reconstruct action's parameters, found
// by the check given to CheckParams: Key names the parameter it is about,
// or is empty when it is about the parameters together.
type ParamProblem struct {
	Key, Msg string
}

// CheckParams reports, as a *ParseError, every problem check finds with
// the parameters of a reconstruct action, at the line and column of the
// parameter's key (of the params mapping, or of the reconstructor, when
// the problem names no parameter it was given); nil when there is none.
func (s *Set) CheckParams(check func(reconstructor string, params map[string]string) []ParamProblem) error {
	var probs []Problem
	for a := range s.allActions {
		if a.Kind != Reconstruct {
			continue
		}
		for _, pp := range check(a.Reconstructor, a.Params) {
			at, ok := a.paramAt[pp.Key]
			if !ok {
				at = a.paramsAt
			}
			if at.line == 0 {
				at = a.reconstructorAt
			}
			msg := fmt.Sprintf("parameters of %s: %s", a.Reconstructor, pp.Msg)
			if ok {
				msg = fmt.Sprintf("parameter %q: %s", pp.Key, pp.Msg)
			}
			probs = append(probs, Problem{at.line, at.column, msg})
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sortProblems(probs)
	// An aliased action is the same node twice.
	return &ParseError{Problems: slices.Compact(probs)}
}

// Outcome is what became of one rule in an evaluation.
type Outcome struct {
	Rule  string
	Index int  // position in the rule list, from 0
	Stop  bool // the rule has stop: true
	// Why explains the outcome, one condition per line with the values it
	// saw: for a matched rule the conditions that held, for a missed rule
	// the first condition that failed (every alternative of an `any` when
	// none held), for a skipped rule the rule that stopped evaluation.
	Why []string
}

// Decision is the result of evaluating a Set.
type Decision struct {
	Matched []Outcome // rules that matched, in order
	Missed  []Outcome // rules evaluated that did not match, in order
	Skipped []Outcome // rules not evaluated because a matched rule had stop: true
	// Actions are the actions to take: those of the matched rules in
	// order, or the fallback's. An action equal to an earlier one is left
	// out. Discard never cancels another rule's action: when any rule chose
	// reconstruct or forward, discards are left out; otherwise Actions
	// holds the first discard alone.
	Actions  []Action
	Fallback bool // no rule matched and Actions are the fallback's
}

// Discard reports whether the decision is to do nothing with the series.
func (d Decision) Discard() bool {
	return len(d.Actions) == 1 && d.Actions[0].Kind == Discard
}

// Evaluate runs the rules in order against a series. subj may be nil (no
// attributes).
func (s *Set) Evaluate(subj Subject, assoc Association) Decision {
	e := &env{subj: subj, pseudo: pseudoValues(assoc)}
	var d Decision
	var chosen []Action
	stoppedBy := ""
	for i, r := range s.rules {
		if stoppedBy != "" {
			d.Skipped = append(d.Skipped, Outcome{Rule: r.Name, Index: i, Stop: r.Stop,
				Why: []string{fmt.Sprintf("rule %q matched with stop: true", stoppedBy)}})
			continue
		}
		ok, why := r.match.eval(e)
		o := Outcome{Rule: r.Name, Index: i, Stop: r.Stop, Why: why}
		if !ok {
			d.Missed = append(d.Missed, o)
			continue
		}
		d.Matched = append(d.Matched, o)
		chosen = append(chosen, r.Actions...)
		if r.Stop {
			stoppedBy = r.Name
		}
	}
	if len(d.Matched) == 0 {
		d.Fallback = true
		chosen = s.fallback
	}
	d.Actions = combine(chosen)
	return d
}

// combine drops repeated actions and, when anything other than discard was
// chosen, every discard; a lone discard stays as the first one.
func combine(chosen []Action) []Action {
	doSomething := slices.ContainsFunc(chosen, func(a Action) bool { return a.Kind != Discard })
	var out []Action
	for _, a := range chosen {
		if doSomething && a.Kind == Discard {
			continue
		}
		if !doSomething && len(out) == 1 {
			break
		}
		if slices.ContainsFunc(out, func(b Action) bool { return sameAction(a, b) }) {
			continue
		}
		a.Params = maps.Clone(a.Params)
		a.Destinations = slices.Clone(a.Destinations)
		out = append(out, a)
	}
	return out
}

// String writes a report: every rule in order with its outcome and why,
// then the actions.
func (d Decision) String() string {
	type line struct {
		o    Outcome
		head string
	}
	var all []line
	for _, o := range d.Matched {
		h := "matched"
		if o.Stop {
			h = "matched, stop"
		}
		all = append(all, line{o, h})
	}
	for _, o := range d.Missed {
		all = append(all, line{o, "did not match"})
	}
	for _, o := range d.Skipped {
		all = append(all, line{o, "not evaluated"})
	}
	slices.SortStableFunc(all, func(a, b line) int { return a.o.Index - b.o.Index })
	var b strings.Builder
	for _, l := range all {
		fmt.Fprintf(&b, "rule %q %s:\n", l.o.Rule, l.head)
		for _, w := range l.o.Why {
			b.WriteString("    " + w + "\n")
		}
	}
	if d.Fallback {
		b.WriteString("no rule matched; fallback actions:\n")
	} else {
		b.WriteString("actions:\n")
	}
	for _, a := range d.Actions {
		b.WriteString("    " + a.String())
		if a.Rule != "" {
			fmt.Fprintf(&b, "  [rule %q]", a.Rule)
		}
		b.WriteString("\n")
	}
	return b.String()
}
