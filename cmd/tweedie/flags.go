package main

import "strings"

// multiFlag collects a repeated flag (--set a=1 --set b=2).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
