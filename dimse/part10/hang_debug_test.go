package part10

import (
	"bytes"
	"math/rand"
	"os"
	"testing"
	"time"
	"io"
	"fmt"
)

func TestHangDebug(t *testing.T) {
	if os.Getenv("HANGDEBUG") == "" { t.Skip() }
	var seeds [][]byte
	for _, s := range nativeSamples(t) {
		d := s.data
		if s.meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian { continue }
		if len(d) > 4096 { d = d[:4096] }
		seeds = append(seeds, d)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		d := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for k := 0; k < 1+r.Intn(4); k++ { d[r.Intn(len(d))] = byte(r.Intn(256)) }
		for _, c := range [][2]string{{ImplicitVRLittleEndian, ExplicitVRLittleEndian},{ExplicitVRLittleEndian, ExplicitVRBigEndian},{ExplicitVRBigEndian, ImplicitVRLittleEndian},{DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian}} {
			done := make(chan error, 1)
			go func() { done <- Transcode(io.Discard, bytes.NewReader(d), c[0], c[1]) }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile("/tmp/hang/input", d, 0o644)
				t.Fatalf("hang %s -> %s, input saved (%d bytes)", c[0], c[1], len(d))
			}
		}
		done := make(chan bool, 1)
		go func() { DataSetInfo(bytes.NewReader(d), ImplicitVRLittleEndian); DataSetInfo(bytes.NewReader(d), ExplicitVRBigEndian); done <- true }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			os.WriteFile("/tmp/hang/input", d, 0o644)
			t.Fatalf("hang in DataSetInfo")
		}
	}
	fmt.Println("no hang")
}
