package reconstruct

import (
	"maps"
	"slices"
	"strings"
)

// ParamChecker is a Reconstructor that checks its parameters without data,
// at configuration time: CheckParams runs the parameter parsing of
// Reconstruct on p for the modality ("MR" or "CT") and returns the error
// Reconstruct would return for those parameters. Every reconstructor
// registered here is one (TestEveryReconstructorChecksParams).
type ParamChecker interface {
	CheckParams(p *Params, modality string) error
}

// CheckParams implements ParamChecker.
func (zeroFilled) CheckParams(p *Params, _ string) error { return p.Check() }

// CheckParams implements ParamChecker.
func (m ctMethod) CheckParams(p *Params, _ string) error { _, err := m.params(p); return err }

// CheckParams implements ParamChecker.
func (m mrMethod) CheckParams(p *Params, _ string) error { _, err := m.params(p); return err }

// CheckParams implements ParamChecker with the parsing Reconstruct uses.
func (d *diffusionRecon) CheckParams(p *Params, modality string) error {
	_, err := d.params(p, modality)
	return err
}

// ParamProblem is one problem with a reconstructor's parameters: Key is
// the parameter it is about, empty when it is about several together.
type ParamProblem struct {
	Key, Msg string
}

// CheckParams checks parameters for the named reconstructor as Run would
// before touching any data, one problem per misspelt or invalid parameter.
// A reconstructor that takes both modalities is checked for each; the
// parameters are good when they are good for one of them (a rule may send
// it only the one). An unknown name is one problem; a reconstructor that
// is not a ParamChecker is not checked.
func CheckParams(name string, params map[string]string) []ParamProblem {
	r, err := Lookup(name)
	if err != nil {
		return []ParamProblem{{Msg: err.Error()}}
	}
	pc, ok := r.(ParamChecker)
	if !ok {
		return nil
	}
	mods := []string{"MR", "CT"}
	if m := r.Modality(); m != "" {
		mods = []string{m}
	}
	var first []ParamProblem
	for i, mod := range mods {
		probs := checkFor(pc, name, params, mod)
		if len(probs) == 0 {
			return nil
		}
		if i == 0 {
			first = probs
		}
	}
	return first
}

// checkFor finds which parameters are wrong for one modality. The keys a
// reconstructor takes are those its parsing reads when given none (every
// parser here reads all of its keys before Params.Check); a key it takes
// is checked alone, and the good keys together, so that each problem is
// put at its own parameter where it has one.
func checkFor(pc ParamChecker, name string, params map[string]string, mod string) []ParamProblem {
	if pc.CheckParams(NewParams(maps.Clone(params)), mod) == nil {
		return nil
	}
	known := NewParams(nil)
	if err := pc.CheckParams(known, mod); err != nil {
		// Its defaults do not parse: say so rather than guess.
		return []ParamProblem{{Msg: trimParams(err)}}
	}
	var probs []ParamProblem
	good := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !known.used[k] {
			probs = append(probs, ParamProblem{k, unknownParam(name, k, slices.Sorted(maps.Keys(known.used)))})
			continue
		}
		if err := pc.CheckParams(NewParams(map[string]string{k: params[k]}), mod); err != nil {
			probs = append(probs, ParamProblem{k, trimParams(err)})
			continue
		}
		good[k] = params[k]
	}
	if err := pc.CheckParams(NewParams(good), mod); err != nil {
		probs = append(probs, ParamProblem{Msg: trimParams(err)})
	}
	return probs
}

func trimParams(err error) string { return strings.TrimPrefix(err.Error(), "parameters: ") }

// unknownParam says that k is not one of known, with the nearest known
// name when one is within two edits.
func unknownParam(name, k string, known []string) string {
	best, dist := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < dist {
			best, dist = c, d
		}
	}
	if len(known) == 0 {
		return name + " takes no parameters"
	}
	msg := "not a parameter of " + name
	if best != "" {
		msg += "; did you mean " + best + "?"
	}
	return msg + " (" + name + " takes " + strings.Join(known, ", ") + ")"
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
