// Package rules decides what to do with each received series: YAML rules
// match the series' first instance and the association it came on, and
// choose actions (reconstruct, forward, discard, keep).
//
// The package is pure: parsing and evaluation do no I/O and read no clock;
// a parsed Set is immutable and safe for concurrent use. The language is
// described in README.md beside this file; in short:
//
//	rules:
//	  - name: mr-raw
//	    match:
//	      all:
//	        - Modality: {equals: MR}
//	        - ImageType: {regex: '^ORIGINAL'}
//	        - peer_address: {cidr: 10.20.0.0/16}
//	        - not: {SeriesDescription: {regex: 'localizer', ignore_case: true}}
//	    actions:
//	      - reconstruct: {reconstructor: mri-diffusion, params: {steps: 100}, destinations: [pacs]}
//	    stop: true
//	fallback:
//	  - discard: {}
//
// Rules are evaluated in order; each matching rule adds its actions unless
// an earlier match had stop: true; the fallback (which must be written)
// applies when none matched. Comparisons (equals, in, regex — unanchored —,
// exists, lt, le, gt, ge, cidr) hold on a multi-valued attribute when any
// value matches (every value with all_values: true) and are false on an
// absent attribute, except exists: false.
//
// Parse takes the YAML node of the rules section, so the configuration file
// can embed it; ParseBytes reads a standalone file. Both report every
// problem at once as a *ParseError with lines and columns. Evaluate returns
// a Decision that explains itself: which conditions held, with the values
// they saw.
package rules
