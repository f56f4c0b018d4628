package derived

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/num/array"
)

// Reading derived images back: for evaluation (a reconstruction compared
// with its reference) and for previews.

// Image is one single-frame image in physical units: Hounsfield units for
// CT (Rescale Slope and Intercept, PS3.3 §C.11.1.1.2), the magnitude for
// tweedie's MR images (stored value × ValueScale, private (0077,1060),
// docs/raw-data.md).
type Image struct {
	SeriesUID     string // Series Instance UID
	Name          string // Series Number and Description, "1001-tweedie cg-sense"
	Number        int    // Instance Number
	Rows, Cols    int
	Vals          []float64 // Rows × Cols, row-major
	Center, Width float64   // the window in the units of Vals, NaN when absent
}

// ReadImage reads a single-frame image with native (uncompressed) pixel
// data and brings its values to physical units.
func ReadImage(path string) (*Image, error) {
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
	im := &Image{Rows: nf.Rows(), Cols: nf.Cols(), SeriesUID: firstString(ds, tag.SeriesInstanceUID),
		Name:   firstString(ds, tag.SeriesNumber) + "-" + firstString(ds, tag.SeriesDescription),
		Center: firstFloat(ds, tag.WindowCenter, math.NaN()), Width: firstFloat(ds, tag.WindowWidth, math.NaN())}
	if im.Rows < 1 || im.Cols < 1 || im.Rows > 8192 || im.Cols > 8192 {
		return nil, fmt.Errorf("%s: image of %d × %d", path, im.Rows, im.Cols)
	}
	im.Number, _ = strconv.Atoi(firstString(ds, tag.InstanceNumber))
	slope, icpt := firstFloat(ds, tag.RescaleSlope, 1), firstFloat(ds, tag.RescaleIntercept, 0)
	if e, err := ds.FindElementByTag(tagValueScale); err == nil {
		if v, ok := e.Value.GetValue().([]float64); ok && len(v) == 1 {
			// The MR window is in stored values (no modality LUT);
			// bring it to the physical scale of Vals.
			slope, icpt = v[0], 0
			im.Center, im.Width = im.Center*slope, im.Width*slope
		}
	}
	signed := false
	if e, err := ds.FindElementByTag(tag.PixelRepresentation); err == nil {
		if v, ok := e.Value.GetValue().([]int); ok && len(v) > 0 {
			signed = v[0] == 1
		}
	}
	im.Vals = make([]float64, im.Rows*im.Cols)
	for i := range im.Vals {
		px, err := nf.GetPixel(i%im.Cols, i/im.Cols)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		v := px[0]
		if signed && nf.BitsPerSample() == 16 {
			v = int(int16(uint16(v)))
		}
		im.Vals[i] = float64(v)*slope + icpt
	}
	return im, nil
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

// ReadSeries reads the images of one series from a folder of DICOM files
// (*.dcm), in instance order, in physical units (ReadImage), as a volume
// (slices, rows, cols).
func ReadSeries(dir string) (vol []float32, slices, rows, cols int, err error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	if len(paths) == 0 {
		return nil, 0, 0, 0, fmt.Errorf("%s: no .dcm files", dir)
	}
	var imgs []*Image
	for _, p := range paths {
		im, err := ReadImage(p)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		if len(imgs) > 0 && im.SeriesUID != imgs[0].SeriesUID {
			return nil, 0, 0, 0, fmt.Errorf("%s holds more than one series", dir)
		}
		if len(imgs) > 0 && (im.Rows != imgs[0].Rows || im.Cols != imgs[0].Cols) {
			return nil, 0, 0, 0, fmt.Errorf("%s: %d × %d among %d × %d images", p, im.Rows, im.Cols, imgs[0].Rows, imgs[0].Cols)
		}
		imgs = append(imgs, im)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Number < imgs[j].Number })
	for _, im := range imgs {
		for _, v := range im.Vals {
			vol = append(vol, float32(v))
		}
	}
	return vol, len(imgs), imgs[0].Rows, imgs[0].Cols, nil
}

// ReadVolume reads a float32 .npy shaped (slices, rows, cols) or (rows,
// cols), or, given a folder, the derived series in it (ReadSeries): the
// two forms a reference and a reconstruction are compared in.
func ReadVolume(path string) (vol []float32, slices, rows, cols int, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return ReadSeries(path)
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
