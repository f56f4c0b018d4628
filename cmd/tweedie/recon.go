package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/pipeline"
	"github.com/tweedie-recon/tweedie/reconstruct"
)

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
	log := zerolog.New(consoleWriter(os.Stderr, time.TimeOnly)).With().Timestamp().Logger().Level(lvl)
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 2
	}
	params, err := reconstruct.ParseSettings(sets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie recon:", err)
		return 2
	}
	acqs, err := pipeline.Load(fs.Args())
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
	score := scoreRuntime(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, a := range acqs {
		start := time.Now()
		out, err := reconstruct.Run(ctx, *name, a.Input, params, reconstruct.Env{Log: log, Score: score})
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie recon:", err)
			return 1
		}
		paths, err := pipeline.WriteSeries(*outDir, a, *name, params, out, *seriesNumber, "")
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie recon:", err)
			return 1
		}
		log.Info().Str("reconstructor", *name).Int("slices", out.Slices).Dur("took", time.Since(start).Round(time.Millisecond)).
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
