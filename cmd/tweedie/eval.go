package main

import (
	"path/filepath"
	"sort"

	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/reconstruct/metrics"
)

// loadVolume reads a float32 .npy shaped (slices, rows, cols) or (rows,
// cols), or, given a folder, the derived DICOM series in it (see
// loadSeries).
func loadVolume(path string) (data []float32, s, r, c int, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return loadSeries(path)
	}
	a, err := array.ReadNPYFile(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	if a.Float32 == nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: want float32 magnitude (<f4), got %s", path, a.Dtype)
	}
	switch len(a.Shape) {
	case 2:
		return a.Float32, 1, a.Shape[0], a.Shape[1], nil
	case 3:
		return a.Float32, a.Shape[0], a.Shape[1], a.Shape[2], nil
	}
	return nil, 0, 0, 0, fmt.Errorf("%s: shape %v, want (slices, rows, cols)", path, a.Shape)
}

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
	r, s, rows, cols, err := loadVolume(*ref)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie eval:", err)
		return 1
	}
	t, s2, rows2, cols2, err := loadVolume(*test)
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

// loadSeries reads the images of one series from a folder of DICOM files,
// in instance order, in physical units (readDerivedImage).
func loadSeries(dir string) ([]float32, int, int, int, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	if len(paths) == 0 {
		return nil, 0, 0, 0, fmt.Errorf("%s: no .dcm files", dir)
	}
	var imgs []*derivedImage
	for _, p := range paths {
		im, err := readDerivedImage(p)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		if len(imgs) > 0 && im.series != imgs[0].series {
			return nil, 0, 0, 0, fmt.Errorf("%s holds more than one series", dir)
		}
		if len(imgs) > 0 && (im.rows != imgs[0].rows || im.cols != imgs[0].cols) {
			return nil, 0, 0, 0, fmt.Errorf("%s: %d × %d among %d × %d images", p, im.rows, im.cols, imgs[0].rows, imgs[0].cols)
		}
		imgs = append(imgs, im)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].number < imgs[j].number })
	var vol []float32
	for _, im := range imgs {
		for _, v := range im.vals {
			vol = append(vol, float32(v))
		}
	}
	return vol, len(imgs), imgs[0].rows, imgs[0].cols, nil
}
