package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditEventsFsynced: every audit event is made durable before Send
// returns: the file is fsynced once per event, with the event in it.
func TestAuditEventsFsynced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var synced []string
	real := syncAudit
	syncAudit = func(f *os.File) error {
		b, _ := os.ReadFile(path)
		synced = append(synced, string(b))
		return real(f)
	}
	defer func() { syncAudit = real }()
	for _, name := range []string{"first-event", "second-event", "third-event"} {
		a.Event(name, AuditApplicationActivity, TypeApplicationStart, "E", OutcomeSuccess).Send()
		if len(synced) == 0 || !strings.Contains(synced[len(synced)-1], name) {
			t.Fatalf("%s: not fsynced when Send returned (%d syncs)", name, len(synced))
		}
	}
	if len(synced) != 3 {
		t.Errorf("%d fsyncs for 3 events", len(synced))
	}
}

// TestAuditReopen: Reopen after logrotate's rename (create) writes the next
// event into a new file at the path, not the moved one; after
// copytruncate the next event starts the truncated file (no hole).
func TestAuditReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	a, err := OpenAudit(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Event("before-rotation", AuditApplicationActivity, TypeApplicationStart, "E", OutcomeSuccess).Send()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	a.Event("after-rotation", AuditApplicationActivity, TypeApplicationStart, "E", OutcomeSuccess).Send()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if !strings.Contains(string(cur), "after-rotation") || strings.Contains(string(cur), "before-rotation") || strings.Contains(string(old), "after-rotation") {
		t.Errorf("after rename and Reopen:\ncurrent %q\nrotated %q", cur, old)
	}
	// copytruncate: the file is copied and truncated in place.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	a.Event("after-truncate", AuditApplicationActivity, TypeApplicationStart, "E", OutcomeSuccess).Send()
	cur, _ = os.ReadFile(path)
	if !strings.HasPrefix(string(cur), "{") || !strings.Contains(string(cur), "after-truncate") {
		t.Errorf("after copytruncate: %q", cur)
	}
}
