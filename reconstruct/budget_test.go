package reconstruct

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParseBudget(t *testing.T) {
	for s, want := range map[string]time.Duration{"8s": 8 * time.Second, "8": 8 * time.Second, "1.5": 1500 * time.Millisecond,
		"1m": time.Minute, "": 0, "off": 0} {
		if got, err := parseBudget(s); err != nil || got != want {
			t.Errorf("parseBudget(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"fast", "-3s", "8 s"} {
		if _, err := parseBudget(s); err == nil {
			t.Errorf("parseBudget(%q) accepted", s)
		}
	}
}

// evaluationsOf reads nfe and the number of samples from a description.
func evaluationsOf(t *testing.T, desc string) int {
	m := regexp.MustCompile(`nfe=(\d+)`).FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("no nfe in %q", desc)
	}
	n, _ := strconv.Atoi(m[1])
	k := 1
	if s := regexp.MustCompile(`mean of (\d+)`).FindStringSubmatch(desc); s != nil {
		k, _ = strconv.Atoi(s[1])
	}
	return n * k
}

// TestBudget: dds with budget=B per slice finishes within 1.2·B per slice
// (the bound; the reconstructor aims at 85 % of what is left after
// its initial estimate), a budget half as large chooses no more network
// evaluations and also keeps within 1.2× its budget (B is three times the
// cost of the cheapest frontier point, measured first, so both budgets
// are reachable on any machine), and a budget below the
// cheapest frontier point still gives a finite result. This measures wall
// time on the machine that runs it, with the shipped MR model at 128².
func TestBudget(t *testing.T) {
	score := shippedScore(t)
	const slices = 2
	in, truth := ellipseMRInput(t, 128, 4, slices)
	env := Env{Log: zerolog.Nop(), Score: score}
	// Load the model once, so that the timed runs do not pay for it.
	if _, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "nfe": "1"}, env); err != nil {
		t.Fatal(err)
	}
	// The budget is set from what the cheapest frontier point costs here
	// (it adapts to the machine): three times that, then half of it.
	c := frontier["MR"][0]
	t0 := time.Now()
	if _, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "nfe": strconv.Itoa(c.nfe),
		"t0": strconv.FormatFloat(c.t0, 'g', -1, 64), "samples": strconv.Itoa(c.samples), "antithetic": "true",
		"init": budgetInit["MR"]}, env); err != nil {
		t.Fatal(err)
	}
	cheapest := time.Since(t0) / slices
	budget := (3 * cheapest).Round(100 * time.Millisecond)
	t.Logf("cheapest frontier point: %v per slice; budget %v", cheapest.Round(time.Millisecond), budget)
	var evals []int
	for _, b := range []time.Duration{budget, budget / 2} {
		t0 := time.Now()
		out, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "budget": b.String()}, env)
		took := time.Since(t0)
		if err != nil {
			t.Fatalf("budget=%v: %v", b, err)
		}
		e := evaluationsOf(t, out.Description)
		evals = append(evals, e)
		per := took / slices
		t.Logf("budget=%v per slice: %s, %v per slice, relative error %.3f", b, out.Description, per.Round(time.Millisecond), relErr32(out.Volume, truth))
		if per > b*12/10 {
			t.Errorf("budget=%v per slice took %v per slice (more than 1.2×)", b, per)
		}
		if !strings.Contains(out.Description, "budget="+b.String()) {
			t.Errorf("description %q does not name the budget", out.Description)
		}
		if r := relErr32(out.Volume, truth); !(r < 0.3) {
			t.Errorf("budget=%v: relative error %.3f", b, r)
		}
	}
	if evals[1] > evals[0] {
		t.Errorf("half the budget chose %d evaluations, the whole %d", evals[1], evals[0])
	}
	out, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "budget": "1ms"}, env)
	if err != nil {
		t.Fatalf("budget=1ms: %v", err)
	}
	if r := relErr32(out.Volume, truth); !(r < 0.5) {
		t.Errorf("budget=1ms: relative error %.3f", r)
	}
	// No sampler settings: the default budget; budget=off: the fixed defaults.
	def, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1"}, env)
	if err != nil {
		t.Fatalf("dds with no settings: %v", err)
	}
	if !strings.Contains(def.Description, "budget="+DefaultBudget.String()) {
		t.Errorf("dds with no settings: %q; want the default budget", def.Description)
	}
	if def.Uncertainty != nil {
		t.Error("the default budget's antithetic pair gave an uncertainty series")
	}
	off, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "budget": "off", "nfe": "2"}, env)
	if err != nil {
		t.Fatalf("budget=off: %v", err)
	}
	if strings.Contains(off.Description, "budget") {
		t.Errorf("budget=off: %q", off.Description)
	}
	for params, want := range map[string]string{"budget=8s nfe=10": "budget chooses", "budget=soon": "budget"} {
		p := map[string]string{}
		for _, kv := range strings.Fields(params) {
			k, v, _ := strings.Cut(kv, "=")
			p[k] = v
		}
		if _, err := Run(context.Background(), "dds", in, p, env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %q", params, err, want)
		}
	}
}
