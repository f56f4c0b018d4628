package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// previewSlice is one image of a series, windowed for display.
type previewSlice struct {
	path       string
	series     string // Series Instance UID
	name       string // Series Number and Description, for file names
	number     int
	rows, cols int
	gray       []uint8
}

func firstString(ds dicom.Dataset, t tag.Tag) string {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return ""
	}
	if v, ok := e.Value.GetValue().([]string); ok && len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func firstFloat(ds dicom.Dataset, t tag.Tag, def float64) float64 {
	if v, err := strconv.ParseFloat(firstString(ds, t), 64); err == nil {
		return v
	}
	return def
}

// derivedImage is one single-frame image in physical units: Hounsfield
// units for CT (Rescale Slope and Intercept, PS3.3 §C.11.1.1.2), the
// magnitude for tweedie's MR images (stored value × ValueScale, private
// (0077,1060), docs/raw-data.md).
type derivedImage struct {
	series, name  string // Series Instance UID; Series Number and Description
	number        int    // Instance Number
	rows, cols    int
	vals          []float64
	center, width float64 // the window, NaN when absent
}

func readDerivedImage(path string) (*derivedImage, error) {
	ds, err := dicom.ParseFile(path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pe, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		return nil, fmt.Errorf("%s: no pixel data", path)
	}
	info, ok := pe.Value.GetValue().(dicom.PixelDataInfo)
	if !ok || len(info.Frames) != 1 || info.Frames[0].Encapsulated {
		return nil, fmt.Errorf("%s: only single-frame native (uncompressed) pixel data is read", path)
	}
	nf := info.Frames[0].NativeData
	im := &derivedImage{rows: nf.Rows(), cols: nf.Cols(), series: firstString(ds, tag.SeriesInstanceUID),
		name:   firstString(ds, tag.SeriesNumber) + "-" + firstString(ds, tag.SeriesDescription),
		center: firstFloat(ds, tag.WindowCenter, math.NaN()), width: firstFloat(ds, tag.WindowWidth, math.NaN())}
	if im.rows < 1 || im.cols < 1 || im.rows > 8192 || im.cols > 8192 {
		return nil, fmt.Errorf("%s: image of %d × %d", path, im.rows, im.cols)
	}
	im.number, _ = strconv.Atoi(firstString(ds, tag.InstanceNumber))
	slope, icpt := firstFloat(ds, tag.RescaleSlope, 1), firstFloat(ds, tag.RescaleIntercept, 0)
	if e, err := ds.FindElementByTag(tag.Tag{Group: 0x0077, Element: 0x1060}); err == nil {
		if v, ok := e.Value.GetValue().([]float64); ok && len(v) == 1 {
			// The MR window is in stored values (no modality LUT);
			// bring it to the physical scale of vals.
			slope, icpt = v[0], 0
			im.center, im.width = im.center*slope, im.width*slope
		}
	}
	signed := false
	if e, err := ds.FindElementByTag(tag.PixelRepresentation); err == nil {
		if v, ok := e.Value.GetValue().([]int); ok && len(v) > 0 {
			signed = v[0] == 1
		}
	}
	im.vals = make([]float64, im.rows*im.cols)
	for i := range im.vals {
		px, err := nf.GetPixel(i%im.cols, i/im.cols)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		v := px[0]
		if signed && nf.BitsPerSample() == 16 {
			v = int(int16(uint16(v)))
		}
		im.vals[i] = float64(v)*slope + icpt
	}
	return im, nil
}

// loadPreview reads one image and applies its window (PS3.3 §C.11.2.1.2,
// linear), or the full range when it has none.
func loadPreview(path string) (*previewSlice, error) {
	im, err := readDerivedImage(path)
	if err != nil {
		return nil, err
	}
	center, width := im.center, im.width
	if math.IsNaN(center) || math.IsNaN(width) || width <= 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range im.vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		center, width = (lo+hi)/2, math.Max(hi-lo, 1e-9)
	}
	s := &previewSlice{series: im.series, name: im.name, number: im.number, rows: im.rows, cols: im.cols, gray: make([]uint8, len(im.vals))}
	for i, v := range im.vals {
		g := ((v-center)/width + 0.5) * 255
		s.gray[i] = uint8(math.Max(0, math.Min(255, g)))
	}
	return s, nil
}

// cmdPreview tiles the images of each series into one PNG, in instance
// order.
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
	series := map[string][]*previewSlice{}
	var order []string
	for _, p := range fs.Args() {
		s, err := loadPreview(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie preview:", err)
			return 1
		}
		if series[s.series] == nil {
			order = append(order, s.series)
		}
		s.path = p
		series[s.series] = append(series[s.series], s)
	}
	if *out != "" && len(order) > 1 {
		fmt.Fprintf(os.Stderr, "tweedie preview: the images belong to %d series; use --out-dir\n", len(order))
		return 2
	}
	for _, uid := range order {
		slices := series[uid]
		path := *out
		if *outDir != "" {
			if err := os.MkdirAll(*outDir, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "tweedie preview:", err)
				return 1
			}
			path = filepath.Join(*outDir, safeName(slices[0].name)+".png")
		}
		if err := writeMontage(path, slices, *perRow); err != nil {
			fmt.Fprintln(os.Stderr, "tweedie preview:", err)
			return 1
		}
		if *copyTo != "" {
			dir := filepath.Join(*copyTo, safeName(slices[0].name))
			if err := copyFiles(dir, slices); err != nil {
				fmt.Fprintln(os.Stderr, "tweedie preview:", err)
				return 1
			}
			fmt.Printf("%s: %d files\n", dir, len(slices))
		}
		fmt.Printf("%s: %d images\n", path, len(slices))
	}
	return 0
}

// safeName keeps letters, digits, dashes and dots.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

func writeMontage(path string, slices []*previewSlice, perRow int) error {
	sort.SliceStable(slices, func(i, j int) bool { return slices[i].number < slices[j].number })
	r, c := slices[0].rows, slices[0].cols
	n := min(perRow, len(slices))
	img := image.NewGray(image.Rect(0, 0, n*c, (len(slices)+n-1)/n*r))
	for k, s := range slices {
		ox, oy := k%n*c, k/n*r
		for y := 0; y < min(r, s.rows); y++ {
			for x := 0; x < min(c, s.cols); x++ {
				img.SetGray(ox+x, oy+y, color.Gray{Y: s.gray[y*s.cols+x]})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = png.Encode(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func copyFiles(dir string, slices []*previewSlice) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range slices {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(s.path)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
