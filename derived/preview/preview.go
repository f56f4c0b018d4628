// Package preview shows derived series at a glance: each image windowed
// as its header says (PS3.3 §C.11.2.1.2, linear) and the images of a
// series tiled into one PNG in instance order.
package preview

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/tweedie-recon/tweedie/derived"
)

// Slice is one image of a series, windowed for display.
type Slice struct {
	Path       string
	SeriesUID  string // Series Instance UID
	Name       string // Series Number and Description, for file names
	Number     int    // Instance Number
	Rows, Cols int
	Gray       []uint8
}

// Load reads one image (derived.ReadImage) and applies its window (PS3.3
// §C.11.2.1.2, linear), or the full range when it has none.
func Load(path string) (*Slice, error) {
	im, err := derived.ReadImage(path)
	if err != nil {
		return nil, err
	}
	center, width := im.Center, im.Width
	if math.IsNaN(center) || math.IsNaN(width) || width <= 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range im.Vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		center, width = (lo+hi)/2, math.Max(hi-lo, 1e-9)
	}
	s := &Slice{Path: path, SeriesUID: im.SeriesUID, Name: im.Name, Number: im.Number, Rows: im.Rows, Cols: im.Cols,
		Gray: make([]uint8, len(im.Vals))}
	for i, v := range im.Vals {
		g := ((v-center)/width + 0.5) * 255
		s.Gray[i] = uint8(math.Max(0, math.Min(255, g)))
	}
	return s, nil
}

// LoadSeries loads the images and groups them by series, the series in
// the order their first image comes in.
func LoadSeries(paths []string) ([][]*Slice, error) {
	bySeries := map[string]int{}
	var out [][]*Slice
	for _, p := range paths {
		s, err := Load(p)
		if err != nil {
			return nil, err
		}
		i, ok := bySeries[s.SeriesUID]
		if !ok {
			i = len(out)
			bySeries[s.SeriesUID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], s)
	}
	return out, nil
}

// FileName is the series' name made safe for a file name: letters,
// digits, dashes and dots kept, anything else an underscore.
func FileName(slices []*Slice) string {
	b := []byte(slices[0].Name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// WriteMontage tiles the images, sorted in instance order, perRow to a
// row, into a grey PNG at path; each tile has the first image's size.
func WriteMontage(path string, slices []*Slice, perRow int) error {
	if len(slices) == 0 || perRow < 1 {
		return fmt.Errorf("preview: %d images, %d to a row", len(slices), perRow)
	}
	sort.SliceStable(slices, func(i, j int) bool { return slices[i].Number < slices[j].Number })
	r, c := slices[0].Rows, slices[0].Cols
	n := min(perRow, len(slices))
	img := image.NewGray(image.Rect(0, 0, n*c, (len(slices)+n-1)/n*r))
	for k, s := range slices {
		ox, oy := k%n*c, k/n*r
		for y := 0; y < min(r, s.Rows); y++ {
			for x := 0; x < min(c, s.Cols); x++ {
				img.SetGray(ox+x, oy+y, color.Gray{Y: s.Gray[y*s.Cols+x]})
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

// CopyFiles copies the images' files into dir, keeping their names.
func CopyFiles(dir string, slices []*Slice) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range slices {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(s.Path)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
