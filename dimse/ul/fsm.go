// Package ul is the DICOM upper-layer protocol machine of PS3.8 §9.2: the
// states, events and actions of Table 9-10 and a provider that runs them over
// a transport connection, with the ARTIM timer (§9.1.5).
//
// The transition table is a literal transcription of PS3.8 Table 9-10, indexed
// by [state][event]. Each action's doc string names what it does and the state
// it leads to; the two conditional actions (AE-6, AR-8) choose their next state
// at run time.
package ul

import "fmt"

// State is one of Sta1 … Sta13, PS3.8 Table 9-9.
type State uint8

// States, PS3.8 Table 9-9.
const (
	Sta1  State = iota + 1 // Idle
	Sta2                   // Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
	Sta3                   // Awaiting local A-ASSOCIATE response primitive
	Sta4                   // Awaiting transport connection opening to complete
	Sta5                   // Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU
	Sta6                   // Association established and ready for data transfer
	Sta7                   // Awaiting A-RELEASE-RP PDU
	Sta8                   // Awaiting local A-RELEASE response primitive
	Sta9                   // Release collision requestor side; awaiting A-RELEASE response
	Sta10                  // Release collision acceptor side; awaiting A-RELEASE-RP PDU
	Sta11                  // Release collision requestor side; awaiting A-RELEASE-RP PDU
	Sta12                  // Release collision acceptor side; awaiting A-RELEASE response primitive
	Sta13                  // Awaiting transport connection close indication
	numStates
)

var stateNames = [...]string{"", "Sta1 idle", "Sta2 awaiting A-ASSOCIATE-RQ", "Sta3 awaiting local A-ASSOCIATE response",
	"Sta4 awaiting transport connection", "Sta5 awaiting A-ASSOCIATE-AC/RJ", "Sta6 association established",
	"Sta7 awaiting A-RELEASE-RP", "Sta8 awaiting local A-RELEASE response", "Sta9 release collision (requestor), awaiting A-RELEASE response",
	"Sta10 release collision (acceptor), awaiting A-RELEASE-RP", "Sta11 release collision (requestor), awaiting A-RELEASE-RP",
	"Sta12 release collision (acceptor), awaiting A-RELEASE response", "Sta13 awaiting transport close"}

func (s State) String() string {
	if s >= 1 && s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("Sta?%d", uint8(s))
}

// Event is one of Evt1 … Evt19, PS3.8 Table 9-10 (rows).
type Event uint8

// Events, PS3.8 Table 9-10.
const (
	Evt1  Event = iota + 1 // A-ASSOCIATE request (local user)
	Evt2                   // Transport connection confirm (local transport service)
	Evt3                   // A-ASSOCIATE-AC PDU received
	Evt4                   // A-ASSOCIATE-RJ PDU received
	Evt5                   // Transport connection indication
	Evt6                   // A-ASSOCIATE-RQ PDU received
	Evt7                   // A-ASSOCIATE response primitive (accept)
	Evt8                   // A-ASSOCIATE response primitive (reject)
	Evt9                   // P-DATA request primitive
	Evt10                  // P-DATA-TF PDU received
	Evt11                  // A-RELEASE request primitive
	Evt12                  // A-RELEASE-RQ PDU received
	Evt13                  // A-RELEASE-RP PDU received
	Evt14                  // A-RELEASE response primitive
	Evt15                  // A-ABORT request primitive
	Evt16                  // A-ABORT PDU received
	Evt17                  // Transport connection closed indication
	Evt18                  // ARTIM timer expired
	Evt19                  // Unrecognized or invalid PDU received
	numEvents
)

var eventNames = [...]string{"", "Evt1 A-ASSOCIATE request", "Evt2 transport connect confirm", "Evt3 A-ASSOCIATE-AC received",
	"Evt4 A-ASSOCIATE-RJ received", "Evt5 transport connect indication", "Evt6 A-ASSOCIATE-RQ received",
	"Evt7 A-ASSOCIATE accept response", "Evt8 A-ASSOCIATE reject response", "Evt9 P-DATA request",
	"Evt10 P-DATA-TF received", "Evt11 A-RELEASE request", "Evt12 A-RELEASE-RQ received", "Evt13 A-RELEASE-RP received",
	"Evt14 A-RELEASE response", "Evt15 A-ABORT request", "Evt16 A-ABORT received", "Evt17 transport closed",
	"Evt18 ARTIM expired", "Evt19 invalid PDU received"}

func (e Event) String() string {
	if e >= 1 && e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("Evt?%d", uint8(e))
}

// Action is one of the actions of PS3.8 Table 9-6 … 9-9 (AE, DT, AR, AA).
type Action uint8

// Actions. The comment gives the standard's wording in short and the next state.
const (
	noAction Action = iota
	AE1             // Issue TRANSPORT CONNECT request primitive → Sta4
	AE2             // Send A-ASSOCIATE-RQ PDU → Sta5
	AE3             // Issue A-ASSOCIATE confirmation (accept) primitive → Sta6
	AE4             // Issue A-ASSOCIATE confirmation (reject) primitive and close transport → Sta1
	AE5             // Issue transport connection response primitive; start ARTIM → Sta2
	AE6             // Stop ARTIM; if the A-ASSOCIATE-RQ is acceptable issue A-ASSOCIATE indication → Sta3, else send A-ASSOCIATE-RJ and start ARTIM → Sta13
	AE7             // Send A-ASSOCIATE-AC PDU → Sta6
	AE8             // Send A-ASSOCIATE-RJ PDU and start ARTIM → Sta13
	DT1             // Send P-DATA-TF PDU → Sta6
	DT2             // Issue P-DATA indication → Sta6
	AR1             // Send A-RELEASE-RQ PDU → Sta7
	AR2             // Issue A-RELEASE indication → Sta8
	AR3             // Issue A-RELEASE confirmation and close transport → Sta1
	AR4             // Send A-RELEASE-RP PDU and start ARTIM → Sta13
	AR5             // Stop ARTIM → Sta1
	AR6             // Issue P-DATA indication → Sta7
	AR7             // Send P-DATA-TF PDU → Sta8
	AR8             // Issue A-RELEASE indication (release collision): requestor → Sta9, acceptor → Sta10
	AR9             // Send A-RELEASE-RP PDU → Sta11
	AR10            // Issue A-RELEASE confirmation → Sta12
	AA1             // Send A-ABORT PDU (service-user source) and start (or restart) ARTIM → Sta13
	AA2             // Stop ARTIM if running; close transport → Sta1
	AA3             // Issue A-ABORT (user source) or A-P-ABORT (provider source) indication; close transport → Sta1
	AA4             // Issue A-P-ABORT indication → Sta1
	AA5             // Stop ARTIM → Sta1
	AA6             // Ignore PDU → Sta13
	AA7             // Send A-ABORT PDU → Sta13
	AA8             // Send A-ABORT PDU (service-provider source), issue A-P-ABORT indication, start ARTIM → Sta13
	numActions
)

var actionNames = [...]string{"", "AE-1", "AE-2", "AE-3", "AE-4", "AE-5", "AE-6", "AE-7", "AE-8", "DT-1", "DT-2",
	"AR-1", "AR-2", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7", "AR-8", "AR-9", "AR-10",
	"AA-1", "AA-2", "AA-3", "AA-4", "AA-5", "AA-6", "AA-7", "AA-8"}

func (a Action) String() string {
	if a >= 1 && a < numActions {
		return actionNames[a]
	}
	return "none"
}

// nextState is the state each action leads to; 0 marks the conditional ones.
var nextState = [numActions]State{
	AE1: Sta4, AE2: Sta5, AE3: Sta6, AE4: Sta1, AE5: Sta2, AE6: 0, AE7: Sta6, AE8: Sta13,
	DT1: Sta6, DT2: Sta6,
	AR1: Sta7, AR2: Sta8, AR3: Sta1, AR4: Sta13, AR5: Sta1, AR6: Sta7, AR7: Sta8, AR8: 0, AR9: Sta11, AR10: Sta12,
	AA1: Sta13, AA2: Sta1, AA3: Sta1, AA4: Sta1, AA5: Sta1, AA6: Sta13, AA7: Sta13, AA8: Sta13,
}

// table is PS3.8 Table 9-10: table[state][event] is the action, noAction
// where the table has no entry (the event cannot occur in that state).
var table = func() (t [numStates][numEvents]Action) {
	set := func(e Event, a Action, states ...State) {
		for _, s := range states {
			t[s][e] = a
		}
	}
	sta6to12 := []State{Sta6, Sta7, Sta8, Sta9, Sta10, Sta11, Sta12}

	set(Evt1, AE1, Sta1)
	set(Evt2, AE2, Sta4)

	set(Evt3, AA1, Sta2)
	set(Evt3, AA8, Sta3)
	set(Evt3, AE3, Sta5)
	set(Evt3, AA8, sta6to12...)
	set(Evt3, AA6, Sta13)

	set(Evt4, AA1, Sta2)
	set(Evt4, AA8, Sta3)
	set(Evt4, AE4, Sta5)
	set(Evt4, AA8, sta6to12...)
	set(Evt4, AA6, Sta13)

	set(Evt5, AE5, Sta1)

	set(Evt6, AE6, Sta2)
	set(Evt6, AA8, Sta3, Sta5)
	set(Evt6, AA8, sta6to12...)
	set(Evt6, AA7, Sta13)

	set(Evt7, AE7, Sta3)
	set(Evt8, AE8, Sta3)

	set(Evt9, DT1, Sta6)
	set(Evt9, AR7, Sta8)

	set(Evt10, AA1, Sta2)
	set(Evt10, AA8, Sta3, Sta5)
	set(Evt10, DT2, Sta6)
	set(Evt10, AR6, Sta7)
	set(Evt10, AA8, Sta8, Sta9, Sta10, Sta11, Sta12)
	set(Evt10, AA6, Sta13)

	set(Evt11, AR1, Sta6)

	set(Evt12, AA1, Sta2)
	set(Evt12, AA8, Sta3, Sta5)
	set(Evt12, AR2, Sta6)
	set(Evt12, AR8, Sta7)
	set(Evt12, AA8, Sta8, Sta9, Sta10, Sta11, Sta12)
	set(Evt12, AA6, Sta13)

	set(Evt13, AA1, Sta2)
	set(Evt13, AA8, Sta3, Sta5, Sta6)
	set(Evt13, AR3, Sta7)
	set(Evt13, AA8, Sta8, Sta9)
	set(Evt13, AR10, Sta10)
	set(Evt13, AR3, Sta11)
	set(Evt13, AA8, Sta12)
	set(Evt13, AA6, Sta13)

	set(Evt14, AR4, Sta8)
	set(Evt14, AR9, Sta9)
	set(Evt14, AR4, Sta12)

	set(Evt15, AA1, Sta3)
	set(Evt15, AA2, Sta4)
	set(Evt15, AA1, Sta5)
	set(Evt15, AA1, sta6to12...)

	set(Evt16, AA2, Sta2)
	set(Evt16, AA3, Sta3, Sta5)
	set(Evt16, AA3, sta6to12...)
	set(Evt16, AA2, Sta13)

	set(Evt17, AA5, Sta2)
	set(Evt17, AA4, Sta3, Sta4, Sta5)
	set(Evt17, AA4, sta6to12...)
	set(Evt17, AR5, Sta13)

	set(Evt18, AA2, Sta2, Sta13)

	set(Evt19, AA1, Sta2)
	set(Evt19, AA8, Sta3, Sta5)
	set(Evt19, AA8, sta6to12...)
	set(Evt19, AA7, Sta13)
	return t
}()

// Transition returns the action PS3.8 Table 9-10 prescribes for event e in
// state s, and false where the table has no entry.
func Transition(s State, e Event) (Action, bool) {
	if s < 1 || s >= numStates || e < 1 || e >= numEvents {
		return noAction, false
	}
	a := table[s][e]
	return a, a != noAction
}
