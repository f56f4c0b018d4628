// Package pipeline is tweedie's reconstruction stage, the one seam between
// the DICOM side and the numerics:
//
//	raw-data instances (rawdata) → Load → Acquisition (a reconstruct.Input per acquisition)
//	  → reconstruct.Run → reconstruct.Output → WriteSeries → derived series (derived)
//
// `tweedie recon` calls these steps directly; the gateway calls them through
// Runner, a gateway.Runner per registered reconstructor, so a job and the
// command line reconstruct the same way. The score-model runtime of the
// diffusion reconstructors is passed in (reconstruct.Env), never taken from
// a process global.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/gateway"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/reconstruct"
	"github.com/tweedie-recon/tweedie/rules"
)

// Acquisition is the assembled raw data of one acquisition: the header of
// its instances (patient, study, geometry) and the reconstruction input.
type Acquisition struct {
	Header rawdata.Header
	Input  *reconstruct.Input
}

// Load reads raw-data files (docs/raw-data.md), groups them by acquisition
// UID in the order first seen, and assembles each acquisition; files that
// are not raw data are errors.
func Load(paths []string) ([]Acquisition, error) {
	mr := map[string][]*rawdata.MRKSpace{}
	ct := map[string][]*rawdata.CTSinogram{}
	var order []string
	for _, p := range paths {
		obj, err := rawdata.ReadFile(p)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *rawdata.MRKSpace:
			if mr[o.Acquisition.UID] == nil {
				order = append(order, o.Acquisition.UID)
			}
			mr[o.Acquisition.UID] = append(mr[o.Acquisition.UID], o)
		case *rawdata.CTSinogram:
			if ct[o.Acquisition.UID] == nil {
				order = append(order, o.Acquisition.UID)
			}
			ct[o.Acquisition.UID] = append(ct[o.Acquisition.UID], o)
		}
	}
	var out []Acquisition
	for _, uid := range order {
		if parts, ok := mr[uid]; ok {
			k, err := rawdata.AssembleMR(parts)
			if err != nil {
				return nil, fmt.Errorf("acquisition %s: %w", uid, err)
			}
			out = append(out, Acquisition{Header: k.Header, Input: &reconstruct.Input{MR: &reconstruct.MRInput{
				Slices: k.Slices, Coils: k.Coils, Rows: k.Rows, Cols: k.Cols, KSpace: k.Data, Mask: k.Mask,
				ImageRows: k.ImageRows, ImageCols: k.ImageCols}}})
			continue
		}
		s, err := rawdata.AssembleCT(ct[uid])
		if err != nil {
			return nil, fmt.Errorf("acquisition %s: %w", uid, err)
		}
		out = append(out, Acquisition{Header: s.Header, Input: &reconstruct.Input{CT: &reconstruct.CTInput{
			Slices: s.Slices, Views: s.Views, Detectors: s.Detectors, Sinogram: s.Data, AnglesDeg: s.AnglesDeg,
			Beam: s.Beam, DetectorSpacing: s.DetectorSpacing, DetectorOffset: s.DetectorOffset, SourceIso: s.SourceIso,
			SourceDet: s.SourceDet, ImageSize: s.ImageRows, PixelMM: s.PixelSpacing[0], MuWater: s.MuWater}}})
	}
	return out, nil
}

// SeriesFor makes the derived series of a reconstruction. Its UIDs are a
// function of the acquisition, the reconstructor, its parameters and salt
// (the job, for the gateway), so the same reconstruction done twice is the
// same series, not a second copy. seriesNumber 0 means the input's + 1000.
func SeriesFor(a Acquisition, name string, params map[string]string, out *reconstruct.Output, seriesNumber int, salt string) *derived.Series {
	var keys []string
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+params[k])
	}
	seriesUID := rawdata.DeriveUID("tweedie-series", a.Header.Acquisition.UID, name, strings.Join(kv, ","), salt)
	if seriesNumber == 0 {
		seriesNumber = a.Header.SeriesNumber + 1000
	}
	return &derived.Series{Source: a.Header, Volume: out.Volume, Slices: out.Slices, Rows: out.Rows, Cols: out.Cols,
		SeriesInstanceUID: seriesUID, SeriesNumber: seriesNumber, SeriesDescription: out.Description,
		SOPInstanceUID: func(i int) string { return rawdata.DeriveUID(seriesUID, fmt.Sprint(i)) }}
}

// WriteSeries writes the reconstruction into dir and, when the method drew
// several posterior samples, its standard-deviation map as a second derived
// series; it returns the files written.
func WriteSeries(dir string, a Acquisition, name string, params map[string]string, out *reconstruct.Output, seriesNumber int, salt string) ([]string, error) {
	paths, err := derived.Write(dir, SeriesFor(a, name, params, out, seriesNumber, salt), derived.Options{})
	if err != nil || out.Uncertainty == nil {
		return paths, err
	}
	if seriesNumber != 0 {
		seriesNumber++
	} else {
		seriesNumber = a.Header.SeriesNumber + 1001
	}
	std, err := derived.Write(dir, SeriesFor(a, name+"-std", params, out.Uncertainty, seriesNumber, salt), derived.Options{})
	return append(paths, std...), err
}

// Runners offers every registered reconstructor to the gateway, besides
// its built-in identity; score is the diffusion reconstructors' runtime.
func Runners(score *reconstruct.ScoreRuntime) map[string]gateway.Runner {
	extra := map[string]gateway.Runner{}
	for _, name := range reconstruct.Names() {
		extra[name] = Runner{Name: name, Score: score}
	}
	return gateway.Runners(extra)
}

// Runner runs one reconstructor on a job's batch of raw-data instances and
// writes the derived series into the job's output folder, with UIDs salted
// by the job so that a job run again after a crash writes the same
// instances. Input that cannot be reconstructed fails the job permanently
// (gateway.Permanent); an interrupted run is retried.
type Runner struct {
	Name  string
	Score *reconstruct.ScoreRuntime
}

// CheckParams implements gateway.ParamChecker: the reconstructor's own
// parameter parsing, run at configuration time.
func (r Runner) CheckParams(params map[string]string) []rules.ParamProblem {
	var out []rules.ParamProblem
	for _, p := range reconstruct.CheckParams(r.Name, params) {
		out = append(out, rules.ParamProblem{Key: p.Key, Msg: p.Msg})
	}
	return out
}

// Run implements gateway.Runner.
func (r Runner) Run(ctx context.Context, job gateway.Job, inputs []string, outDir string) ([]string, error) {
	acqs, err := Load(inputs)
	if err != nil {
		return nil, gateway.Permanent(err)
	}
	if len(acqs) == 0 {
		return nil, gateway.Permanent(errors.New("the series holds no raw-data acquisition"))
	}
	env := reconstruct.Env{Log: zerolog.Ctx(ctx).With().Str("job", job.ID).Logger(), Score: r.Score}
	var outs []string
	for _, a := range acqs {
		out, err := reconstruct.Run(ctx, r.Name, a.Input, job.Params, env)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, gateway.Permanent(err)
		}
		paths, err := WriteSeries(outDir, a, r.Name, job.Params, out, 0, "job="+job.ID)
		if err != nil {
			return nil, fmt.Errorf("writing the series: %w", err)
		}
		outs = append(outs, paths...)
	}
	return outs, nil
}
