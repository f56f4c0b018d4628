package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/conf"
	"github.com/tweedie-recon/tweedie/gateway"
)

// TestConfigCheckParams: the reconstructors' parameters are checked with
// the configuration, each problem typed and at its parameter's line, and
// the embedded default routing passes the same check.
func TestConfigCheckParams(t *testing.T) {
	check := gateway.ConfigCheck(Runners(nil))
	if _, err := conf.LoadChecked("", check); err != nil {
		t.Fatalf("embedded defaults: %v", err)
	}
	y := `routing:
  rules:
    - name: ct
      match: {Modality: {equals: CT}}
      actions: [{reconstruct: {reconstructor: admm-tv, params: {lambda: 0.01, itres: 50}, destinations: [folder]}}]
  fallback:
    - reconstruct:
        reconstructor: l1-wavelet
        params:
          lambda: -0.5
        destinations: [folder]
`
	_, err := conf.Parse([]byte(y), "x.yaml", check)
	var ce *conf.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
	p0, p1 := ce.Problems[0], ce.Problems[1]
	if p0.Line != 5 || p0.Col != 79 || p0.Path != "routing" || !strings.Contains(p0.Msg, `parameter "itres": not a parameter of admm-tv; did you mean iters?`) {
		t.Errorf("misspelt parameter: %+v", p0)
	}
	if p1.Line != 10 || p1.Col != 11 || !strings.Contains(p1.Msg, `parameter "lambda": parameters out of range: lambda -0.5`) {
		t.Errorf("value out of range: %+v", p1)
	}
	if _, err := conf.Parse([]byte(strings.NewReplacer("itres", "iters", "-0.5", "0.005").Replace(y)), "x.yaml", check); err != nil {
		t.Errorf("corrected: %v", err)
	}
}
