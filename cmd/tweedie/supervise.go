package main

import "github.com/tweedie-recon/tweedie/gateway/isolation"

// childArgs is the command line of one of serve's worker processes
// (jobs.isolation: process, package gateway/isolation): `tweedie worker
// --child`, one job at a time, on serve's state folder and queue; the
// token is read from a file, never given here.
func childArgs(c isolation.Child) []string {
	args := []string{"worker", "--child", "--name", c.Name, "--state", c.State, "--workers", "1", "--nats-url", c.NATSURL}
	if c.ConfigPath != "" {
		args = append(args, "--config", c.ConfigPath)
	}
	if c.TokenFile != "" {
		args = append(args, "--nats-token-file", c.TokenFile)
	}
	return args
}
