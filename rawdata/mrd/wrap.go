package mrd

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/wrap"
)

// WrapOptions steer Wrap.
type WrapOptions struct {
	Options
	// Identity holds what the caller gives explicitly (the command line's
	// patient and study options): its non-empty fields win over the
	// header's. Orientation, PixelMM or SliceMM set replace the geometry
	// of the acquisitions with wrap.Identity's synthetic stack.
	Identity wrap.Identity
}

// Wrap assembles src (with header h) and makes one raw-data MR object per
// volume (docs/raw-data.md), in one study: patient, study and series from
// opt.Identity, then from the header's subjectInformation,
// studyInformation, measurementInformation and acquisitionSystemInformation,
// then wrap.Identity's defaults (a synthetic, consistent identity). Several
// volumes (contrasts, phases, repetitions, sets) become consecutive series
// numbers, their descriptions naming the counters that differ. Each object
// carries the XML header (0077,1030), verbatim but for tabs, which become
// spaces: the UT value representation does not allow them (PS3.5 §6.2),
// and in XML they are white space like a space.
func Wrap(h *Header, src Source, opt WrapOptions) ([]*rawdata.MRKSpace, *Report, error) {
	vols, rep, err := Assemble(h, src, opt.Options)
	if err != nil {
		return nil, nil, err
	}
	id, extra := identityFrom(h, opt.Identity, rep)
	userGeometry := id.Orientation != "" || id.PixelMM != 0 || id.SliceMM != 0
	if id.Orientation == "" {
		id.Orientation = "axial"
	}
	g0 := vols[0].Geometry
	if id.PixelMM == 0 {
		id.PixelMM = g0.PixelSpacing[0]
	}
	if id.SliceMM == 0 {
		id.SliceMM = g0.SliceThickness
	}
	// The first header fixes what every volume shares (synthetic patient,
	// study and frame of reference included).
	first, err := id.Header("MR", vols[0].Slices, vols[0].ImageRows, vols[0].ImageCols)
	if err != nil {
		return nil, nil, err
	}
	id.PatientName, id.PatientID, id.StudyUID, id.FrameUID = first.PatientName, first.PatientID, first.StudyInstanceUID, first.FrameOfReferenceUID
	id.StudyDate, id.StudyTime = first.StudyDate, first.StudyTime
	var vary [4]bool
	for _, v := range vols[1:] {
		vary[0] = vary[0] || v.Contrast != vols[0].Contrast
		vary[1] = vary[1] || v.Phase != vols[0].Phase
		vary[2] = vary[2] || v.Repetition != vols[0].Repetition
		vary[3] = vary[3] || v.Set != vols[0].Set
	}
	xml := strings.ReplaceAll(h.Raw, "\t", " ")
	var out []*rawdata.MRKSpace
	for i, v := range vols {
		vid := id
		if i > 0 {
			vid.SeriesUID = ""
			if id.SeriesUID != "" {
				vid.SeriesUID = rawdata.DeriveUID(id.SeriesUID, fmt.Sprint(i))
			}
		}
		vid.SeriesNumber = id.SeriesNumber + i
		if l := v.label(vary); l != "" {
			vid.SeriesDesc = truncate(strings.TrimSpace(id.SeriesDesc+" "+l), 64)
		}
		hd, err := vid.Header("MR", v.Slices, v.ImageRows, v.ImageCols)
		if err != nil {
			return nil, nil, err
		}
		if !userGeometry {
			hd.Geometry = v.Geometry
		}
		hd.Manufacturer = nameOr(extra.manufacturer, hd.Manufacturer)
		hd.InstitutionName, hd.StationName, hd.ReferringPhysician = extra.institution, extra.station, extra.referring
		out = append(out, &rawdata.MRKSpace{Header: hd, Slices: v.Slices, Coils: v.Coils, Rows: v.Rows, Cols: v.Cols,
			Data: v.Data, Mask: v.Mask, ISMRMRD: xml})
	}
	return out, rep, nil
}

// equipment and the referring physician: fields of rawdata.Header that
// wrap.Identity does not carry.
type extraIdentity struct{ manufacturer, institution, station, referring string }

// identityFrom fills the empty fields of given from the header, within
// the lengths of their DICOM value representations (PS3.5 §6.2: LO and PN
// components 64, SH 16 characters); values DICOM cannot carry are left out
// with a note.
func identityFrom(h *Header, given wrap.Identity, rep *Report) (wrap.Identity, extraIdentity) {
	id := given
	var x extraIdentity
	set := func(dst *string, v string, n int) {
		if *dst == "" && v != "" {
			*dst = truncate(v, n)
		}
	}
	if s := h.Subject; s != nil {
		set(&id.PatientName, s.PatientName, 64)
		set(&id.PatientID, s.PatientID, 64)
		if d, ok := dicomDate(s.PatientBirthdate); ok {
			set(&id.BirthDate, d, 8)
		} else if s.PatientBirthdate != "" {
			rep.note("patientBirthdate %q is not a date (YYYY-MM-DD); left out", s.PatientBirthdate)
		}
		if g := s.PatientGender; g == "M" || g == "F" || g == "O" {
			set(&id.Sex, g, 1)
		}
	}
	if s := h.Study; s != nil {
		if validUID(s.StudyInstanceUID) {
			set(&id.StudyUID, s.StudyInstanceUID, 64)
		} else if s.StudyInstanceUID != "" {
			rep.note("studyInstanceUID %q is not a DICOM UID; a new one is made", s.StudyInstanceUID)
		}
		if d, ok := dicomDate(s.StudyDate); ok {
			set(&id.StudyDate, d, 8)
		}
		if t, ok := dicomTime(s.StudyTime); ok {
			set(&id.StudyTime, t, 16)
		}
		set(&id.StudyID, s.StudyID, 16)
		set(&id.Accession, s.AccessionNumber, 16)
		set(&id.StudyDesc, s.StudyDescription, 64)
		x.referring = truncate(s.ReferringPhysicianName, 64)
	}
	if m := h.Measurement; m != nil {
		set(&id.SeriesDesc, nameOr(m.SeriesDescription, m.ProtocolName), 64)
		if id.SeriesNumber == 0 && m.InitialSeriesNumber != nil && *m.InitialSeriesNumber > 0 && *m.InitialSeriesNumber < 1<<30 {
			id.SeriesNumber = int(*m.InitialSeriesNumber)
		}
		if validUID(m.FrameOfReferenceUID) {
			set(&id.FrameUID, m.FrameOfReferenceUID, 64)
		}
		if regexp.MustCompile(`^(HF|FF)(S|P|DR|DL)$`).MatchString(m.PatientPosition) {
			set(&id.Position, m.PatientPosition, 4)
		}
	}
	if s := h.System; s != nil {
		x.manufacturer = truncate(s.SystemVendor, 64)
		x.institution = truncate(s.InstitutionName, 64)
		x.station = truncate(s.StationName, 16)
	}
	if id.SeriesNumber == 0 {
		id.SeriesNumber = 1
	}
	if id.Position == "" {
		id.Position = "HFS"
	}
	set(&id.SeriesDesc, "mr raw data (tweedie wrap --ismrmrd)", 64)
	return id, x
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

var (
	reDate = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})`)
	reTime = regexp.MustCompile(`^(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?`)
	reUID  = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$`)
)

// dicomDate turns an xs:date (YYYY-MM-DD[zone]) into a DA (YYYYMMDD).
func dicomDate(s string) (string, bool) {
	m := reDate.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1] + m[2] + m[3], true
}

// dicomTime turns an xs:time (hh:mm:ss[.ffffff][zone]) into a TM.
func dicomTime(s string) (string, bool) {
	m := reTime.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1] + m[2] + m[3] + m[4], true
}

// validUID checks PS3.5 §9.1: digits and dots, no leading zeros, at most
// 64 characters.
func validUID(s string) bool { return len(s) <= 64 && reUID.MatchString(s) }
