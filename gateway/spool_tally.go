// Audit tallies: what each association stored, written as one
// "instances received" event per study when it ends (PS3.15 §A.5.3.5), and
// the dispositions (ignored, late, duplicate) of single instances.

package gateway

import (
	"sort"

	"github.com/tweedie-recon/tweedie/dimse"
)

type tally struct {
	calling, called, peer string
	studies               map[string]*studyTally
}

type studyTally struct {
	instances              int
	series                 map[string]bool
	sopClasses             map[string]bool
	patientName, patientID string
}

func (s *Spool) auditDisposition(event, why string, req *dimse.StoreRequest, h *Header, gen int) {
	r := s.cfg.Audit.Event(event, AuditInstancesTransfered, AuditEventID{}, "C", OutcomeMinorFailure).
		Str("description", why).Str("sop_instance_uid", h.SOPInstanceUID).Str("sop_class_uid", h.SOPClassUID).
		Str("study_uid", h.StudyUID).Str("series_uid", h.SeriesUID).Int("generation", gen).Patient(h.PatientName, h.PatientID)
	if a := req.Association; a != nil {
		r = r.Str("source_ae", a.CallingAE).Str("destination_ae", a.CalledAE)
		if a.RemoteAddr != nil {
			r = r.Str("source_address", a.RemoteAddr.String())
		}
	}
	r.Send()
}

// tallyLocked counts a stored instance for the association's
// "instances received" audit event.
func (s *Spool) tallyLocked(req *dimse.StoreRequest, h *Header) {
	a := req.Association
	if a == nil {
		return
	}
	t := s.tallies[assocKey(a)]
	if t == nil {
		t = &tally{calling: a.CallingAE, called: a.CalledAE, studies: map[string]*studyTally{}}
		if a.RemoteAddr != nil {
			t.peer = a.RemoteAddr.String()
		}
		s.tallies[assocKey(a)] = t
	}
	st := t.studies[h.StudyUID]
	if st == nil {
		st = &studyTally{series: map[string]bool{}, sopClasses: map[string]bool{}, patientName: h.PatientName, patientID: h.PatientID}
		t.studies[h.StudyUID] = st
	}
	st.instances++
	st.series[h.SeriesUID] = true
	st.sopClasses[h.SOPClassUID] = true
}

// AssociationEnded writes the association's "instances received" audit
// events (PS3.15 §A.5.3.5 DICOM Instances Transferred, action C), one per
// study.
func (s *Spool) AssociationEnded(a *dimse.AssociationInfo) {
	s.mu.Lock()
	t := s.tallies[assocKey(a)]
	delete(s.tallies, assocKey(a))
	s.mu.Unlock()
	if t == nil {
		return
	}
	for study, st := range t.studies {
		s.cfg.Audit.Event("instances-received", AuditInstancesTransfered, AuditEventID{}, "C", OutcomeSuccess).
			Str("source_ae", t.calling).Str("destination_ae", t.called).Str("source_address", t.peer).
			Str("study_uid", study).Strs("series_uids", sortedKeys(st.series)).Strs("sop_class_uids", sortedKeys(st.sopClasses)).
			Int("instances", st.instances).Patient(st.patientName, st.patientID).Send()
	}
}

// assocKey identifies a live association: its peer's address and port.
func assocKey(a *dimse.AssociationInfo) string {
	k := a.CallingAE + "|" + a.CalledAE
	if a.RemoteAddr != nil {
		k += "|" + a.RemoteAddr.String()
	}
	return k
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
