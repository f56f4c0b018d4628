package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/reconstruct/metrics"
)

func cmdEval(args []string) int {
	fs := flag.NewFlagSet("eval", flag.ExitOnError)
	ref := fs.String("ref", "", "reference .npy float32 (slices, rows, cols)")
	test := fs.String("test", "", "reconstruction: .npy float32 of the same shape, or a folder holding the derived DICOM series")
	ct := fs.Bool("ct", false, "CT in HU: compare HU+1024 clipped at 0 (air = 0), so that PSNR's data range is the reference maximum above air")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tweedie eval --ref REF.npy --test TEST.npy\nPrints JSON with PSNR, SSIM and NMSE as fastMRI defines them.")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if *ref == "" || *test == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	r, s, rows, cols, err := derived.ReadVolume(*ref)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie eval:", err)
		return 1
	}
	t, s2, rows2, cols2, err := derived.ReadVolume(*test)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie eval:", err)
		return 1
	}
	if s != s2 || rows != rows2 || cols != cols2 {
		fmt.Fprintf(os.Stderr, "tweedie eval: reference is %d×%d×%d, test %d×%d×%d\n", s, rows, cols, s2, rows2, cols2)
		return 1
	}
	if *ct {
		for _, v := range [][]float32{r, t} {
			for i := range v {
				v[i] = max(v[i]+1024, 0)
			}
		}
	}
	res, err := metrics.Compare(r, t, s, rows, cols)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie eval:", err)
		return 1
	}
	out := struct {
		metrics.Result
		Slices int `json:"slices"`
		Rows   int `json:"rows"`
		Cols   int `json:"cols"`
	}{res, s, rows, cols}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}
