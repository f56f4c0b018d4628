package msg

import "fmt"

// Status codes used by the services implemented here, PS3.7 Annex C and
// PS3.4 Table B.2-1 (Storage).
const (
	StatusSuccess                uint16 = 0x0000
	StatusWarningCoercion        uint16 = 0xB000 // coercion of data elements
	StatusWarningElemDiscarded   uint16 = 0xB006
	StatusWarningDataSetMismatch uint16 = 0xB007
	StatusOutOfResources         uint16 = 0xA700 // refused: out of resources
	StatusDataSetMismatch        uint16 = 0xA900 // data set does not match SOP class
	StatusCannotUnderstand       uint16 = 0xC000
	StatusProcessingFailure      uint16 = 0x0110
	StatusNoSuchSOPClass         uint16 = 0x0118 // SOP class not supported
	StatusDuplicateInvocation    uint16 = 0x0210
	StatusUnrecognizedOp         uint16 = 0x0211
	StatusMistypedArgument       uint16 = 0x0212
	StatusHandlerFailed          uint16 = 0xC211 // the application's handler failed
	StatusNotAuthorized          uint16 = 0x0124
)

// StatusClass is the category of a status, PS3.7 Annex C.
type StatusClass uint8

// Status categories.
const (
	Success StatusClass = iota
	Warning
	Failure
	Cancel
	Pending
)

func (c StatusClass) String() string {
	return [...]string{"success", "warning", "failure", "cancel", "pending"}[c]
}

// Classify returns the category of a status code, PS3.7 §C.1–C.5.
func Classify(s uint16) StatusClass {
	switch {
	case s == 0x0000:
		return Success
	case s == 0x0001 || s&0xF000 == 0xB000 || s == 0x0107 || s == 0x0116:
		return Warning
	case s == 0xFE00:
		return Cancel
	case s == 0xFF00 || s == 0xFF01:
		return Pending
	}
	return Failure
}

// StatusString gives a short description of the codes used here.
func StatusString(s uint16) string {
	name := map[uint16]string{
		StatusSuccess: "Success", StatusWarningCoercion: "Warning: coercion of data elements",
		StatusWarningElemDiscarded: "Warning: elements discarded", StatusWarningDataSetMismatch: "Warning: data set does not match SOP class",
		StatusOutOfResources: "Refused: out of resources", StatusDataSetMismatch: "Error: data set does not match SOP class",
		StatusCannotUnderstand: "Error: cannot understand", StatusProcessingFailure: "Processing failure",
		StatusNoSuchSOPClass: "No such SOP class", StatusDuplicateInvocation: "Duplicate invocation",
		StatusUnrecognizedOp: "Unrecognized operation", StatusMistypedArgument: "Mistyped argument",
		StatusHandlerFailed: "Failure: handler error", StatusNotAuthorized: "Refused: not authorized",
	}[s]
	if name == "" {
		name = Classify(s).String()
	}
	return fmt.Sprintf("0x%04X %s", s, name)
}
