package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/reconstruct"
)

// acquisition is the assembled raw data of one acquisition.
type acquisition struct {
	header rawdata.Header
	input  *reconstruct.Input
}

// loadAcquisitions reads raw-data files and groups them by acquisition UID.
func loadAcquisitions(paths []string) ([]acquisition, error) {
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
	var out []acquisition
	for _, uid := range order {
		if parts, ok := mr[uid]; ok {
			k, err := rawdata.AssembleMR(parts)
			if err != nil {
				return nil, fmt.Errorf("acquisition %s: %w", uid, err)
			}
			out = append(out, acquisition{header: k.Header, input: &reconstruct.Input{MR: &reconstruct.MRInput{
				Slices: k.Slices, Coils: k.Coils, Rows: k.Rows, Cols: k.Cols, KSpace: k.Data, Mask: k.Mask,
				ImageRows: k.ImageRows, ImageCols: k.ImageCols}}})
			continue
		}
		s, err := rawdata.AssembleCT(ct[uid])
		if err != nil {
			return nil, fmt.Errorf("acquisition %s: %w", uid, err)
		}
		out = append(out, acquisition{header: s.Header, input: &reconstruct.Input{CT: &reconstruct.CTInput{
			Slices: s.Slices, Views: s.Views, Detectors: s.Detectors, Sinogram: s.Data, AnglesDeg: s.AnglesDeg,
			Beam: s.Beam, DetectorSpacing: s.DetectorSpacing, DetectorOffset: s.DetectorOffset, SourceIso: s.SourceIso,
			SourceDet: s.SourceDet, ImageSize: s.ImageRows, PixelMM: s.PixelSpacing[0], MuWater: s.MuWater}}})
	}
	return out, nil
}

// seriesFor makes the derived series of a reconstruction. Its UIDs are a
// function of the acquisition, the reconstructor and its parameters, so the
// same reconstruction done twice is the same series, not a second copy.
func seriesFor(a acquisition, name string, params map[string]string, out *reconstruct.Output, seriesNumber int, salt string) *derived.Series {
	var keys []string
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+params[k])
	}
	seriesUID := rawdata.DeriveUID("tweedie-series", a.header.Acquisition.UID, name, strings.Join(kv, ","), salt)
	if seriesNumber == 0 {
		seriesNumber = a.header.SeriesNumber + 1000
	}
	return &derived.Series{Source: a.header, Volume: out.Volume, Slices: out.Slices, Rows: out.Rows, Cols: out.Cols,
		SeriesInstanceUID: seriesUID, SeriesNumber: seriesNumber, SeriesDescription: out.Description,
		SOPInstanceUID: func(i int) string { return rawdata.DeriveUID(seriesUID, fmt.Sprint(i)) }}
}

// writeSeries writes the reconstruction and, when the method drew several
// posterior samples, its standard-deviation map as a second derived series.
func writeSeries(dir string, a acquisition, name string, params map[string]string, out *reconstruct.Output, seriesNumber int, salt string) ([]string, error) {
	paths, err := derived.Write(dir, seriesFor(a, name, params, out, seriesNumber, salt), derived.Options{})
	if err != nil || out.Uncertainty == nil {
		return paths, err
	}
	if seriesNumber != 0 {
		seriesNumber++
	} else {
		seriesNumber = a.header.SeriesNumber + 1001
	}
	std, err := derived.Write(dir, seriesFor(a, name+"-std", params, out.Uncertainty, seriesNumber, salt), derived.Options{})
	return append(paths, std...), err
}

func cmdRecon(args []string) int {
	fs := flag.NewFlagSet("recon", flag.ExitOnError)
	name := fs.String("reconstructor", "", "reconstructor ("+strings.Join(reconstruct.Names(), ", ")+")")
	var sets multiFlag
	fs.Var(&sets, "set", "reconstructor parameter key=value (repeatable)")
	export := fs.String("export", "", "also write the volume as .npy float32 (slices, rows, cols): MR magnitude in the data's physical scale, CT in HU")
	outDir := fs.String("out", "", "folder for the derived DICOM series")
	seriesNumber := fs.Int("series-number", 0, "Series Number of the output (default: input's + 1000)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	cfgPath := fs.String("config", "", "configuration file, for its onnx section (default: embedded defaults and the environment)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tweedie recon --reconstructor NAME [--set key=value ...] [--export OUT.npy] --out DIR INPUT...\nINPUTs are raw-data DICOM files (docs/raw-data.md).")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if *name == "" || *outDir == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	lvl, _ := zerolog.ParseLevel(*level)
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger().Level(lvl)
	if _, err := loadConfig(*cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 2
	}
	params, err := reconstruct.ParseSettings(sets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 2
	}
	acqs, err := loadAcquisitions(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 1
	}
	if *export != "" && len(acqs) != 1 {
		fmt.Fprintf(os.Stderr, "tweedie recon: --export needs exactly one acquisition, the inputs hold %d\n", len(acqs))
		return 2
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, a := range acqs {
		start := time.Now()
		out, err := reconstruct.Run(ctx, *name, a.input, params, log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie recon:", err)
			return 1
		}
		paths, err := writeSeries(*outDir, a, *name, params, out, *seriesNumber, "")
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie recon:", err)
			return 1
		}
		log.Info().Str("reconstructor", *name).Int("slices", out.Slices).Dur("took", time.Since(start)).
			Str("out", *outDir).Msg(out.Description)
		fmt.Printf("%s: %d images in %s (%.2f s)\n", out.Description, len(paths), *outDir, time.Since(start).Seconds())
		if *export != "" {
			if err := array.WriteNPYFile(*export, []int{out.Slices, out.Rows, out.Cols}, out.Volume); err != nil {
				fmt.Fprintln(os.Stderr, "tweedie recon:", err)
				return 1
			}
		}
	}
	return 0
}
