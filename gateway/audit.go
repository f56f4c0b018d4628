package gateway

import (
	"io"
	"os"
	"sync"

	"github.com/rs/zerolog"
)

// Audit is the audit stream: one JSON object per event, on its own writer
// apart from the operational log. The events are modelled on the DICOM
// audit messages of PS3.15 Annex A.5 (which profile RFC 3881): each names
// its Event ID (A.5.3, coded in scheme "DCM"), the Event Action Code (C
// create, R read, U update, D delete, E execute) and the Event Outcome
// Indicator (0 success, 4 minor failure, 8 serious failure, 12 major
// failure), with the participants and the objects concerned.
//
// Patient names and IDs appear only when IncludePatient is set; the
// operational log never carries them.
type Audit struct {
	log            zerolog.Logger
	IncludePatient bool
	closer         io.Closer
	mu             sync.Mutex
}

// An AuditEventID is a PS3.15 §A.5.3 event (PS3.16 CID 400 codes).
type AuditEventID struct{ Code, Meaning string }

// Event IDs of PS3.15 §A.5.3 and the event type codes of CID 401 that the
// gateway uses.
var (
	AuditApplicationActivity = AuditEventID{"110100", "Application Activity"}        // A.5.3.1
	AuditInstancesAccessed   = AuditEventID{"110103", "DICOM Instances Accessed"}    // A.5.3.4
	AuditInstancesTransfered = AuditEventID{"110104", "DICOM Instances Transferred"} // A.5.3.5
	AuditSecurityAlert       = AuditEventID{"110113", "Security Alert"}              // A.5.3.11
	AuditUserAuthentication  = AuditEventID{"110114", "User Authentication"}         // A.5.3.12

	TypeApplicationStart      = AuditEventID{"110120", "Application Start"}
	TypeApplicationStop       = AuditEventID{"110121", "Application Stop"}
	TypeLogin                 = AuditEventID{"110122", "Login"}
	TypeNodeAuthentication    = AuditEventID{"110126", "Node Authentication"}
	TypeSoftwareConfiguration = AuditEventID{"110131", "Software Configuration"}
)

// Event Outcome Indicators (PS3.15 §A.5.2, RFC 3881).
const (
	OutcomeSuccess      = 0
	OutcomeMinorFailure = 4
	OutcomeSerious      = 8
	OutcomeMajorFailure = 12
)

// OpenAudit opens the audit stream: path "-" is standard output, anything
// else a file opened for appending (created 0640), each event made
// durable (fsync) before Send returns, reopened by Reopen.
func OpenAudit(path string, includePatient bool) (*Audit, error) {
	var w io.Writer = os.Stdout
	var c io.Closer
	if path != "-" {
		af := &auditFile{path: path}
		if err := af.reopen(); err != nil {
			return nil, err
		}
		w, c = af, af
	}
	return &Audit{log: zerolog.New(w).With().Timestamp().Logger(), IncludePatient: includePatient, closer: c}, nil
}

// auditFile is the audit log's file. Every event is fsynced as it is
// written: audit events come per association, series, job and refusal
// (the refusals rate-limited), not per instance, so a few a second at
// most, and an event the crash of the node or the host would lose is the
// one an investigation needs (PS3.15 A.5: the record of an access must
// survive it). Reopen follows logrotate: after a rename (create) the
// file is created again at path; after copytruncate, appending writes go
// on at the truncated file's end.
type auditFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// syncAudit makes an audit event durable (a variable so that a test can
// count the calls; it still syncs).
var syncAudit = (*os.File).Sync

func (a *auditFile) reopen() error {
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (a *auditFile) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.f.Write(p)
	if err == nil {
		err = syncAudit(a.f)
	}
	return n, err
}

func (a *auditFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// Reopen opens the audit file again at its path (SIGHUP, after logrotate
// moved it away); standard output and test writers are left as they are.
func (a *Audit) Reopen() error {
	if a == nil {
		return nil
	}
	if af, ok := a.closer.(*auditFile); ok {
		return af.reopen()
	}
	return nil
}

// NewAudit writes the audit stream to w (tests).
func NewAudit(w io.Writer, includePatient bool) *Audit {
	return &Audit{log: zerolog.New(w).With().Timestamp().Logger(), IncludePatient: includePatient}
}

// Close closes the audit file.
func (a *Audit) Close() error {
	if a == nil || a.closer == nil {
		return nil
	}
	return a.closer.Close()
}

// AuditRecord is one event being built; Send writes it.
type AuditRecord struct {
	a *Audit
	e *zerolog.Event
}

// Event starts a record: name is the gateway's own name for the event
// ("instances-received"), id and typ the PS3.15 codes (typ may be zero),
// action the Event Action Code, outcome the indicator.
func (a *Audit) Event(name string, id, typ AuditEventID, action string, outcome int) *AuditRecord {
	if a == nil {
		return nil
	}
	e := a.log.Log().Str("event", name).Str("event_id", id.Code).Str("event_meaning", id.Meaning)
	if typ.Code != "" {
		e = e.Str("event_type", typ.Code).Str("event_type_meaning", typ.Meaning)
	}
	return &AuditRecord{a: a, e: e.Str("action", action).Int("outcome", outcome)}
}

// Str adds a field.
func (r *AuditRecord) Str(k, v string) *AuditRecord {
	if r != nil && v != "" {
		r.e = r.e.Str(k, v)
	}
	return r
}

// Strs adds a list field.
func (r *AuditRecord) Strs(k string, v []string) *AuditRecord {
	if r != nil && len(v) > 0 {
		r.e = r.e.Strs(k, v)
	}
	return r
}

// Int adds a number.
func (r *AuditRecord) Int(k string, v int) *AuditRecord {
	if r != nil {
		r.e = r.e.Int(k, v)
	}
	return r
}

// Patient adds the patient's name and ID, only when the stream is
// configured to carry them.
func (r *AuditRecord) Patient(name, id string) *AuditRecord {
	if r != nil && r.a.IncludePatient {
		r = r.Str("patient_name", name).Str("patient_id", id)
	}
	return r
}

// Send writes the record.
func (r *AuditRecord) Send() {
	if r == nil {
		return
	}
	r.a.mu.Lock()
	r.e.Send()
	r.a.mu.Unlock()
}
