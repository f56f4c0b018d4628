package main

import (
	"path/filepath"
	"sort"
	"strconv"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/reconstruct/metrics"
)

// loadVolume reads a float32 .npy shaped (slices, rows, cols) or (rows,
// cols), or, given a folder, the derived DICOM series in it (see
// loadSeries).
func loadVolume(path string) (data []float32, s, r, c int, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return loadSeries(path)
	}
	a, err := kspace.ReadNPYFile(path)
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
// in instance order, in physical units: Hounsfield units for CT (Rescale
// Slope and Intercept), the magnitude for tweedie's MR images (stored value
// × ValueScale, private (0077,1060); docs/raw-data.md).
func loadSeries(dir string) ([]float32, int, int, int, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	if len(paths) == 0 {
		return nil, 0, 0, 0, fmt.Errorf("%s: no .dcm files", dir)
	}
	type img struct {
		number int
		vals   []float32
	}
	var imgs []img
	var rows, cols int
	var series string
	for _, p := range paths {
		ds, err := dicom.ParseFile(p, nil)
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("%s: %w", p, err)
		}
		if uid := firstString(ds, tag.SeriesInstanceUID); series == "" {
			series = uid
		} else if uid != series {
			return nil, 0, 0, 0, fmt.Errorf("%s holds more than one series", dir)
		}
		pe, err := ds.FindElementByTag(tag.PixelData)
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("%s: no pixel data", p)
		}
		info, ok := pe.Value.GetValue().(dicom.PixelDataInfo)
		if !ok || len(info.Frames) != 1 || info.Frames[0].Encapsulated {
			return nil, 0, 0, 0, fmt.Errorf("%s: want one native frame", p)
		}
		nf := info.Frames[0].NativeData
		if rows == 0 {
			rows, cols = nf.Rows(), nf.Cols()
		} else if nf.Rows() != rows || nf.Cols() != cols {
			return nil, 0, 0, 0, fmt.Errorf("%s: %d × %d among %d × %d images", p, nf.Rows(), nf.Cols(), rows, cols)
		}
		slope, icpt := firstFloat(ds, tag.RescaleSlope, 1), firstFloat(ds, tag.RescaleIntercept, 0)
		if e, err := ds.FindElementByTag(tag.Tag{Group: 0x0077, Element: 0x1060}); err == nil {
			if v, ok := e.Value.GetValue().([]float64); ok && len(v) == 1 {
				slope, icpt = v[0], 0
			}
		}
		signed := false
		if e, err := ds.FindElementByTag(tag.PixelRepresentation); err == nil {
			if v, ok := e.Value.GetValue().([]int); ok && len(v) > 0 {
				signed = v[0] == 1
			}
		}
		im := img{vals: make([]float32, rows*cols)}
		im.number, _ = strconv.Atoi(firstString(ds, tag.InstanceNumber))
		for i := range im.vals {
			px, err := nf.GetPixel(i%cols, i/cols)
			if err != nil {
				return nil, 0, 0, 0, fmt.Errorf("%s: %w", p, err)
			}
			v := px[0]
			if signed && nf.BitsPerSample() == 16 {
				v = int(int16(uint16(v)))
			}
			im.vals[i] = float32(float64(v)*slope + icpt)
		}
		imgs = append(imgs, im)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].number < imgs[j].number })
	var vol []float32
	for _, im := range imgs {
		vol = append(vol, im.vals...)
	}
	return vol, len(imgs), rows, cols, nil
}
