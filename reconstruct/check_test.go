package reconstruct

import (
	"slices"
	"strings"
	"testing"
)

// Every registered reconstructor checks its parameters at configuration
// time, and its defaults pass.
func TestEveryReconstructorChecksParams(t *testing.T) {
	for _, name := range Names() {
		r, _ := Lookup(name)
		if _, ok := r.(ParamChecker); !ok {
			t.Errorf("%s is not a ParamChecker", name)
		}
		if probs := CheckParams(name, nil); probs != nil {
			t.Errorf("%s without parameters: %+v", name, probs)
		}
	}
}

func TestCheckParams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
		keys   []string // keys of the problems, in order; nil: none
		msg    string   // in the first problem
	}{
		{"dds", map[string]string{"nfe": "50", "eta": "0.85"}, nil, ""},
		{"dds", map[string]string{"nfee": "50"}, []string{"nfee"}, "did you mean nfe?"},
		{"dds", map[string]string{"nfe": "0"}, []string{"nfe"}, "nfe=0"},
		{"dds", map[string]string{"nfe": "many", "colour": "blue", "eta": "0.5"}, []string{"colour", "nfe"}, "not a parameter of dds"},
		{"mbir", map[string]string{"lambda_z": "0.1", "rho_z": "1"}, nil, ""},
		{"cg-sense", map[string]string{"lamda": "0.01"}, []string{"lamda"}, "did you mean lambda?"},
		{"cg-sense", map[string]string{"lambda": "-1"}, []string{"lambda"}, "out of range"},
		{"tv", map[string]string{"lambda": "0.01", "iters": "20"}, nil, ""},
		{"fbp", map[string]string{"filter": "hann"}, nil, ""},
		{"fbp", map[string]string{"filter": "bogus"}, []string{"filter"}, "bogus"},
		{"sirt", map[string]string{"lambda": "1"}, []string{"lambda"}, "sirt takes iters"},
		{"zero-filled", map[string]string{"iters": "3"}, []string{"iters"}, "zero-filled takes no parameters"},
		{"no-such", nil, []string{""}, "unknown reconstructor"},
	} {
		probs := CheckParams(tc.name, tc.params)
		var keys []string
		for _, p := range probs {
			keys = append(keys, p.Key)
		}
		if !slices.Equal(keys, tc.keys) || len(probs) > 0 && !strings.Contains(probs[0].Msg, tc.msg) {
			t.Errorf("%s %v: %+v, want keys %q and %q", tc.name, tc.params, probs, tc.keys, tc.msg)
		}
	}
}
