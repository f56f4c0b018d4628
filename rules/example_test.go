package rules_test

import (
	"fmt"

	"github.com/tweedie-recon/tweedie/rules"
)

func Example() {
	set, err := rules.ParseBytes([]byte(`
rules:
  - name: mr-raw
    match:
      all:
        - Modality: {equals: MR}
        - ImageType: {regex: "^ORIGINAL"}
        - peer_address: {cidr: 10.20.0.0/16}
        - not: {SeriesDescription: {regex: localizer, ignore_case: true}}
    actions:
      - reconstruct: {reconstructor: mri-diffusion, params: {steps: 100}, destinations: [pacs]}
    stop: true
fallback:
  - discard: {}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	first := rules.MapSubject{
		"Modality":          {"MR"},
		"ImageType":         {"ORIGINAL", "PRIMARY", "M"},
		"SeriesDescription": {"t1_mprage_sag"},
	}
	d := set.Evaluate(first, rules.Association{CallingAE: "MR1", CalledAE: "TWEEDIE", PeerAddr: "10.20.0.7:51234"})
	fmt.Print(d)
	for _, a := range d.Actions {
		fmt.Println(a.Kind, a.Reconstructor, a.Params["steps"], a.Destinations)
	}
	// Output:
	// rule "mr-raw" matched, stop:
	//     Modality equals "MR" (value "MR")
	//     ImageType regex "^ORIGINAL" (value "ORIGINAL")
	//     peer_address cidr 10.20.0.0/16 (value "10.20.0.7")
	//     not SeriesDescription regex "localizer" ignore_case (value "t1_mprage_sag")
	// actions:
	//     reconstruct with mri-diffusion (steps=100) to pacs  [rule "mr-raw"]
	// reconstruct mri-diffusion 100 [pacs]
}

func ExampleParseError() {
	_, err := rules.ParseBytes([]byte(`
rules:
  - name: ct
    match: {Modality: {equals: CT, regex: C}}
    actions: [{forward: {destinations: [pacs]}}]
`))
	fmt.Println(err)
	// Output:
	// line 2:1: no fallback: say what happens to a series no rule matches, e.g. fallback: [{discard: {}}]
	// line 4:36: Modality already has the operator equals; compare with one operator and combine with all: or any:
}
