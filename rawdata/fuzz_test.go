package rawdata

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFile: no file may panic the reader or make it allocate beyond
// its bounds; a valid object's header is the seed.
func FuzzReadFile(f *testing.F) {
	dir := f.TempDir()
	for i, write := range []func(string) error{
		func(p string) error { return WriteMR(p, sampleMR()) },
		func(p string) error { return WriteCT(p, sampleCT()) },
	} {
		p := filepath.Join(dir, "seed"+string(rune('0'+i))+".dcm")
		if err := write(p); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "x.dcm")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		obj, err := ReadFile(p)
		if err != nil {
			return
		}
		switch o := obj.(type) {
		case *MRKSpace:
			if err := o.Validate(); err != nil {
				t.Fatalf("accepted an invalid object: %v", err)
			}
		case *CTSinogram:
			if err := o.Validate(); err != nil {
				t.Fatalf("accepted an invalid object: %v", err)
			}
		}
	})
}
