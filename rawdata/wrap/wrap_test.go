package wrap

import (
	"math"
	"slices"
	"testing"

	"github.com/tweedie-recon/tweedie/rawdata"
)

func TestParseAngles(t *testing.T) {
	got, err := ParseAngles("linspace:0:180:4")
	if err != nil || !slices.Equal(got, []float64{0, 45, 90, 135}) {
		t.Errorf("linspace: %v %v", got, err)
	}
	for _, bad := range []string{"linspace:0:180", "linspace:a:180:4", "linspace:0:180:0"} {
		if _, err := ParseAngles(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Header centres the slices on the isocentre along the slice normal, and
// SplitCT cuts a volume into instances that cover it once.
func TestHeaderAndSplit(t *testing.T) {
	id := Identity{PixelMM: 0.5, SliceMM: 2, Orientation: "axial", SeriesNumber: 3}
	h, err := id.Header("CT", 5, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Positions) != 5 || h.Positions[0][2] != -4 || h.Positions[4][2] != 4 || math.Abs(h.Positions[0][0]+15.75) > 1e-12 {
		t.Errorf("positions %v", h.Positions)
	}
	if _, err := (&Identity{PixelMM: 1, SliceMM: 1, Orientation: "oblique"}).Header("MR", 1, 4, 4); err == nil {
		t.Error("oblique accepted")
	}
	s := &rawdata.CTSinogram{Header: h, Slices: 5, Views: 2, Detectors: 3, Data: make([]float32, 30)}
	parts := SplitCT(s, 2)
	if len(parts) != 3 || parts[2].Slices != 1 || parts[2].FirstSlice != 4 || parts[1].SOPInstanceUID == parts[0].SOPInstanceUID || len(parts[1].Data) != 12 {
		t.Errorf("split into %d parts", len(parts))
	}
	if parts := SplitCT(s, 0); len(parts) != 1 || parts[0] != s {
		t.Error("per 0 does not keep one instance")
	}
}
