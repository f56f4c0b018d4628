package ul

import "testing"

// Received-PDU events and the transport events can happen in any state in
// which a transport connection exists (Sta2, Sta3, Sta5–Sta13); PS3.8 Table
// 9-10 gives every one of those cells an action.
func TestTableCoversNetworkEvents(t *testing.T) {
	network := []Event{Evt3, Evt4, Evt6, Evt10, Evt12, Evt13, Evt16, Evt17, Evt19}
	for s := Sta2; s <= Sta13; s++ {
		if s == Sta4 {
			continue
		}
		for _, e := range network {
			if _, ok := Transition(s, e); !ok {
				t.Errorf("no action for %s in %s", e, s)
			}
		}
	}
}

// Spot checks against PS3.8 Table 9-10, one per column family, written
// from the standard's table rather than from the code.
func TestTableEntries(t *testing.T) {
	cases := []struct {
		s    State
		e    Event
		want Action
	}{
		{Sta1, Evt1, AE1}, {Sta4, Evt2, AE2}, {Sta5, Evt3, AE3}, {Sta5, Evt4, AE4}, {Sta1, Evt5, AE5},
		{Sta2, Evt6, AE6}, {Sta3, Evt7, AE7}, {Sta3, Evt8, AE8}, {Sta6, Evt9, DT1}, {Sta8, Evt9, AR7},
		{Sta6, Evt10, DT2}, {Sta7, Evt10, AR6}, {Sta6, Evt11, AR1}, {Sta6, Evt12, AR2}, {Sta7, Evt12, AR8},
		{Sta7, Evt13, AR3}, {Sta10, Evt13, AR10}, {Sta11, Evt13, AR3}, {Sta8, Evt14, AR4}, {Sta9, Evt14, AR9},
		{Sta12, Evt14, AR4}, {Sta4, Evt15, AA2}, {Sta6, Evt15, AA1}, {Sta2, Evt16, AA2}, {Sta6, Evt16, AA3},
		{Sta13, Evt16, AA2}, {Sta2, Evt17, AA5}, {Sta6, Evt17, AA4}, {Sta13, Evt17, AR5}, {Sta2, Evt18, AA2},
		{Sta13, Evt18, AA2}, {Sta2, Evt19, AA1}, {Sta6, Evt19, AA8}, {Sta13, Evt19, AA7}, {Sta13, Evt6, AA7},
		{Sta13, Evt10, AA6}, {Sta2, Evt3, AA1}, {Sta6, Evt6, AA8}, {Sta6, Evt13, AA8}, {Sta12, Evt13, AA8},
	}
	for _, c := range cases {
		if got, _ := Transition(c.s, c.e); got != c.want {
			t.Errorf("%s + %s = %s, want %s", c.s, c.e, got, c.want)
		}
	}
	// Primitives that the table does not allow.
	for _, c := range []struct {
		s State
		e Event
	}{{Sta2, Evt9}, {Sta7, Evt9}, {Sta1, Evt3}, {Sta6, Evt7}, {Sta13, Evt15}, {Sta6, Evt18}} {
		if a, ok := Transition(c.s, c.e); ok {
			t.Errorf("%s + %s = %s, want no entry", c.s, c.e, a)
		}
	}
}

// Table 9-10 has 123 filled cells.
func TestTableSize(t *testing.T) {
	n := 0
	for s := Sta1; s < numStates; s++ {
		for e := Evt1; e < numEvents; e++ {
			if _, ok := Transition(s, e); ok {
				n++
			}
		}
	}
	if n != 123 {
		t.Errorf("%d cells filled, want 123", n)
	}
}

func TestNames(t *testing.T) {
	if Sta6.String() == "" || Evt19.String() == "" || AA8.String() != "AA-8" || AR10.String() != "AR-10" {
		t.Error("names")
	}
}
