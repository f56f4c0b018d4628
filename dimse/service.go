package dimse

import (
	"errors"
	"fmt"
	"io"

	"github.com/tweedie-recon/tweedie/dimse/msg"
)

// StoreRequest is a C-STORE-RQ as the application sees it (PS3.7 §9.1.1.1).
type StoreRequest struct {
	Association       *AssociationInfo
	MessageID         uint16
	Priority          uint16
	SOPClassUID       string
	SOPInstanceUID    string
	TransferSyntaxUID string // the accepted transfer syntax of the data set
	MoveOriginatorAE  string
}

// StoreSink receives one data set fragment by fragment as the P-DATA-TF PDUs
// arrive; nothing buffers the whole object.
type StoreSink interface {
	io.Writer
	// Close ends the transfer. transferErr is nil when the last fragment
	// arrived; then the returned status (or the error, mapped by StatusOf) is
	// sent in the C-STORE-RSP. A non-nil transferErr means the data set is
	// incomplete (a write failed, or the association ended): the sink
	// discards what it has, and its return values are only logged.
	Close(transferErr error) (uint16, error)
}

// StoreHandler is the Storage SCP's application intervention (PS3.4 Annex B):
// one handler, which answers every C-STORE with a status.
type StoreHandler interface {
	// BeginStore is called on the C-STORE-RQ, before any data set byte. An
	// error refuses the object: its data set is read and discarded, and the
	// error's status (StatusOf) is sent.
	BeginStore(req *StoreRequest) (StoreSink, error)
}

// StatusError carries the DIMSE status a handler wants sent.
type StatusError struct {
	Status  uint16
	Comment string // sent as Error Comment (0000,0902), at most 64 characters
	Err     error
}

func (e *StatusError) Error() string {
	s := msg.StatusString(e.Status)
	if e.Comment != "" {
		s += ": " + e.Comment
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *StatusError) Unwrap() error { return e.Err }

// ErrOutOfResources is the sentinel a handler wraps when storage is full;
// it is answered with 0xA700 (PS3.4 Table B.2-1).
var ErrOutOfResources = errors.New("out of resources")

// StatusOf maps a handler error to the status sent to the peer: a
// StatusError's own status, 0xA700 for ErrOutOfResources, and 0xC211
// ("handler failed") for anything else. It never returns Success for an error.
func StatusOf(err error) (uint16, string) {
	if err == nil {
		return msg.StatusSuccess, ""
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Status == msg.StatusSuccess {
			return msg.StatusHandlerFailed, err.Error()
		}
		c := se.Comment
		if c == "" && se.Err != nil {
			c = se.Err.Error()
		}
		return se.Status, c
	}
	if errors.Is(err, ErrOutOfResources) {
		return msg.StatusOutOfResources, err.Error()
	}
	return msg.StatusHandlerFailed, err.Error()
}

// safeBegin calls the handler and turns a panic into an error: a faulty
// handler costs one object a failure status, never the server.
func safeBegin(h StoreHandler, req *StoreRequest) (s StoreSink, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("store handler panicked: %v", r)
		}
	}()
	return h.BeginStore(req)
}

func safeWrite(s StoreSink, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store sink panicked: %v", r)
		}
	}()
	_, err = s.Write(b)
	return err
}

func safeClose(s StoreSink, transferErr error) (st uint16, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = msg.StatusHandlerFailed, fmt.Errorf("store sink panicked: %v", r)
		}
	}()
	return s.Close(transferErr)
}
