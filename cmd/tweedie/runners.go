package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/reconstruct"
)

// runners offers every registered reconstructor to the gateway, besides
// the built-in identity.
func runners() map[string]gateway.Runner {
	extra := map[string]gateway.Runner{}
	for _, name := range reconstruct.Names() {
		extra[name] = reconRunner{name: name}
	}
	return gateway.Runners(extra)
}

// reconRunner runs a reconstructor on a batch of raw-data instances and
// writes the derived series into the job's output folder. Its UIDs derive
// from the acquisition, the reconstructor, its parameters and the job, so
// a job run again after a crash writes the same instances.
type reconRunner struct {
	name string
}

func (r reconRunner) Run(ctx context.Context, job gateway.Job, inputs []string, outDir string) ([]string, error) {
	acqs, err := loadAcquisitions(inputs)
	if err != nil {
		return nil, gateway.Permanent(err)
	}
	if len(acqs) == 0 {
		return nil, gateway.Permanent(errors.New("the series holds no raw-data acquisition"))
	}
	var outs []string
	for _, a := range acqs {
		out, err := reconstruct.Run(ctx, r.name, a.input, job.Params, zerolog.Ctx(ctx).With().Str("job", job.ID).Logger())
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, gateway.Permanent(err)
		}
		paths, err := writeSeries(outDir, a, r.name, job.Params, out, 0, "job="+job.ID)
		if err != nil {
			return nil, fmt.Errorf("writing the series: %w", err)
		}
		outs = append(outs, paths...)
	}
	return outs, nil
}
