package peers

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/tweedie-recon/tweedie/part10"
)

// elementWriter writes Explicit VR Little Endian elements (PS3.5 §7.1.2).
type elementWriter struct {
	w   io.Writer
	err error
}

func (e *elementWriter) raw(group, elem uint16, vr string, val []byte) {
	if e.err != nil {
		return
	}
	if len(val)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" || vr == "OB" {
			pad = 0
		}
		val = append(val, pad)
	}
	var h []byte
	h = binary.LittleEndian.AppendUint16(h, group)
	h = binary.LittleEndian.AppendUint16(h, elem)
	h = append(h, vr...)
	switch vr {
	case "OB", "OW", "OF", "SQ", "UN", "UT":
		h = append(h, 0, 0)
		h = binary.LittleEndian.AppendUint32(h, uint32(len(val)))
	default:
		h = binary.LittleEndian.AppendUint16(h, uint16(len(val)))
	}
	if _, e.err = e.w.Write(h); e.err == nil {
		_, e.err = e.w.Write(val)
	}
}

func (e *elementWriter) str(group, elem uint16, vr, s string) { e.raw(group, elem, vr, []byte(s)) }
func (e *elementWriter) us(group, elem uint16, v uint16) {
	e.raw(group, elem, "US", binary.LittleEndian.AppendUint16(nil, v))
}

// WriteMR writes a synthetic 16-bit MR image (rows × cols, Explicit VR Little
// Endian) as a Part 10 file: about 128 KiB of pixels at 256², the size of a
// typical clinical MR slice. It is benchmark and test material, not anatomy.
func WriteMR(path, studyUID, seriesUID, sopUID string, number, rows, cols int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	const mrStorage = "1.2.840.10008.5.1.4.1.1.4"
	if err := part10.WriteMeta(bw, part10.Meta{MediaStorageSOPClassUID: mrStorage, MediaStorageSOPInstanceUID: sopUID,
		TransferSyntaxUID: part10.ExplicitVRLittleEndian, ImplementationClassUID: "2.25.1", ImplementationVersionName: "TWEEDIE_TEST"}); err != nil {
		return err
	}
	e := &elementWriter{w: bw}
	e.str(0x0008, 0x0016, "UI", mrStorage)
	e.str(0x0008, 0x0018, "UI", sopUID)
	e.str(0x0008, 0x0060, "CS", "MR")
	e.str(0x0010, 0x0010, "PN", "BENCH^MR")
	e.str(0x0010, 0x0020, "LO", "BENCH01")
	e.str(0x0020, 0x000D, "UI", studyUID)
	e.str(0x0020, 0x000E, "UI", seriesUID)
	e.str(0x0020, 0x0013, "IS", fmt.Sprint(number))
	e.us(0x0028, 0x0002, 1)
	e.str(0x0028, 0x0004, "CS", "MONOCHROME2")
	e.us(0x0028, 0x0010, uint16(rows))
	e.us(0x0028, 0x0011, uint16(cols))
	e.us(0x0028, 0x0100, 16)
	e.us(0x0028, 0x0101, 12)
	e.us(0x0028, 0x0102, 11)
	e.us(0x0028, 0x0103, 0)
	px := make([]byte, 2*rows*cols)
	for i := 0; i < rows*cols; i++ {
		binary.LittleEndian.PutUint16(px[2*i:], uint16((i*7+number*13)%4096))
	}
	e.raw(0x7FE0, 0x0010, "OW", px)
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// WriteBigRawData writes a Raw Data Storage object (PS3.3 A.37) whose
// private OB payload has the given size, streaming, for memory tests.
func WriteBigRawData(path, sopUID string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	const raw = "1.2.840.10008.5.1.4.1.1.66"
	if err := part10.WriteMeta(bw, part10.Meta{MediaStorageSOPClassUID: raw, MediaStorageSOPInstanceUID: sopUID,
		TransferSyntaxUID: part10.ExplicitVRLittleEndian, ImplementationClassUID: "2.25.1"}); err != nil {
		return err
	}
	e := &elementWriter{w: bw}
	e.str(0x0008, 0x0016, "UI", raw)
	e.str(0x0008, 0x0018, "UI", sopUID)
	e.str(0x0008, 0x0060, "CS", "MR")
	e.str(0x0020, 0x000D, "UI", sopUID+".1")
	e.str(0x0020, 0x000E, "UI", sopUID+".2")
	e.str(0x0029, 0x0010, "LO", "TWEEDIE TEST")
	size &^= 1
	var h []byte
	h = binary.LittleEndian.AppendUint16(h, 0x0029)
	h = binary.LittleEndian.AppendUint16(h, 0x1000)
	h = append(h, 'O', 'B', 0, 0)
	h = binary.LittleEndian.AppendUint32(h, uint32(size))
	if _, err := bw.Write(h); err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	for left := size; left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := bw.Write(chunk[:n]); err != nil {
			return err
		}
		left -= n
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}
