package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/rules"
)

// cmdRules is `tweedie rules test --config FILE PATH...`: it reads the
// files (folders recursively), groups them by series, and prints for each
// series which rules matched, why, and the actions, as the node would
// decide on the series' first instance. Association facts (calling_ae …)
// can be given with flags.
func cmdRules(args []string) int {
	if len(args) < 1 || args[0] != "test" {
		fmt.Fprintln(os.Stderr, "usage: tweedie rules test [--config FILE] [--calling-ae AE] [--called-ae AE] [--peer ADDR] PATH...")
		return 2
	}
	fs := flag.NewFlagSet("rules test", flag.ExitOnError)
	cfgPath := fs.String("config", "", "YAML configuration with the routing section (default: embedded defaults)")
	calling := fs.String("calling-ae", "", "calling AE title to assume")
	called := fs.String("called-ae", "", "called AE title to assume")
	peer := fs.String("peer", "", "peer address to assume (ip:port)")
	fs.Parse(args[1:])
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "tweedie rules test: no files given")
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	set, err := gateway.RoutingRules(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	type series struct {
		first string
		n     int
	}
	bySeries := map[string]*series{}
	bad := 0
	visit := func(p string) {
		h, err := gateway.ReadHeader(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: skipped: %v\n", p, err)
			bad++
			return
		}
		s := bySeries[h.SeriesUID]
		if s == nil {
			s = &series{first: p}
			bySeries[h.SeriesUID] = s
		}
		s.n++
	}
	for _, root := range fs.Args() {
		st, err := os.Stat(root)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if !st.IsDir() {
			visit(root)
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				visit(p)
			}
			return nil
		})
	}
	keys := make([]string, 0, len(bySeries))
	for k := range bySeries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := bySeries[k]
		h, _ := gateway.ReadHeader(s.first)
		subj, err := h.Subject()
		if err != nil {
			fmt.Fprintf(os.Stderr, "series %s: %v\n", k, err)
			bad++
			continue
		}
		d := set.Evaluate(subj, rules.Association{CallingAE: *calling, CalledAE: *called, PeerAddr: *peer})
		fmt.Printf("series %s (%d instances, first %s)\n%s\n", k, s.n, s.first, d.String())
	}
	if bad > 0 {
		return 1
	}
	return 0
}
