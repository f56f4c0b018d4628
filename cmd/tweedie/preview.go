package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tweedie-recon/tweedie/derived/preview"
)

// cmdPreview tiles the images of each series into one PNG, in instance
// order (package derived/preview).
func cmdPreview(args []string) int {
	fs := flag.NewFlagSet("preview", flag.ExitOnError)
	out := fs.String("out", "", "output PNG (one series)")
	outDir := fs.String("out-dir", "", "folder for one PNG per series, named SERIESNUMBER-DESCRIPTION.png")
	perRow := fs.Int("columns", 4, "images per row")
	copyTo := fs.String("copy-to", "", "also copy each series' files into DIR/SERIESNUMBER-DESCRIPTION/, one folder per series")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tweedie preview (--out PREVIEW.png | --out-dir DIR) IMAGE.dcm...\nTiles each series' images (windowed as their headers say) into a PNG.")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if (*out == "") == (*outDir == "") || fs.NArg() == 0 || *perRow < 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "tweedie preview:", err); return 1 }
	series, err := preview.LoadSeries(fs.Args())
	if err != nil {
		return fail(err)
	}
	if *out != "" && len(series) > 1 {
		fmt.Fprintf(os.Stderr, "tweedie preview: the images belong to %d series; use --out-dir\n", len(series))
		return 2
	}
	for _, slices := range series {
		path := *out
		if *outDir != "" {
			if err := os.MkdirAll(*outDir, 0o755); err != nil {
				return fail(err)
			}
			path = filepath.Join(*outDir, preview.FileName(slices)+".png")
		}
		if err := preview.WriteMontage(path, slices, *perRow); err != nil {
			return fail(err)
		}
		if *copyTo != "" {
			dir := filepath.Join(*copyTo, preview.FileName(slices))
			if err := preview.CopyFiles(dir, slices); err != nil {
				return fail(err)
			}
			fmt.Printf("%s: %d files\n", dir, len(slices))
		}
		fmt.Printf("%s: %d images\n", path, len(slices))
	}
	return 0
}
