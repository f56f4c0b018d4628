package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Health that tells the truth. /healthz and the systemd watchdog
// (sd_notify WATCHDOG=1 only while healthy) must go red when the node
// cannot do its work, not only when a goroutine is gone: JetStream
// switches itself off on a full disk while the connection stays up;
// a read-only or full state folder makes every C-STORE fail; a queue
// whose workers have all died keeps the listener green while series
// pile up.

// stallLimit is how long jobs may wait with no worker taking one before
// the node reports not ready.
const stallLimit = 15 * time.Minute

// readiness checks what Healthy reports beyond the connection: JetStream
// enabled, the state folder writable, free space above the floor
// (spool.min_free) on every folder a writer fills, and the queue moving.
func (n *Node) readiness() error {
	var problems []string
	if n.queue.ns != nil && !n.queue.ns.JetStreamEnabled() {
		problems = append(problems, "JetStream is disabled (the embedded server switches it off when its store fails, a full disk among the causes)")
	}
	if f, err := os.CreateTemp(n.state, ".healthz-*"); err != nil {
		problems = append(problems, fmt.Sprintf("the state folder is not writable: %v", err))
	} else {
		f.Close()
		os.Remove(f.Name())
	}
	if floor := int64(n.cfg.Spool.MinFree); floor > 0 {
		store := n.cfg.NATS.StoreDir
		if store == "" && n.queue.ns != nil {
			store = filepath.Join(n.state, "jetstream")
		}
		dirs := []struct{ what, dir string }{{"spool", filepath.Join(n.state, "spool")}, {"queue store", store},
			{"outboxes", filepath.Join(n.state, "outbox")}, {"work", filepath.Join(n.state, "work")}}
		for _, d := range dirs {
			if d.dir == "" {
				continue
			}
			free, err := freeBytes(existingParent(d.dir))
			if err == nil && free < floor {
				problems = append(problems, fmt.Sprintf("free space under the %s (%s) is %d bytes, below the floor spool.min_free (%d)", d.what, d.dir, free, floor))
			}
		}
	}
	if err := n.queueMoving(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// queueMoving reports jobs waiting while no worker has taken one for
// longer than stallLimit.
func (n *Node) queueMoving() error {
	if n.queue.job == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ci, err := n.queue.job.Info(ctx)
	if err != nil {
		return fmt.Errorf("the job queue does not answer: %v", err)
	}
	if ci.NumPending == 0 || ci.NumAckPending > 0 {
		return nil // nothing waits, or a worker is on a job (bounded by jobs.timeout)
	}
	last := ci.Created
	if ci.Delivered.Last != nil {
		last = *ci.Delivered.Last
	}
	if idle := time.Since(last); idle > stallLimit {
		return fmt.Errorf("%d jobs wait and no worker has taken one for %s", ci.NumPending, idle.Round(time.Second))
	}
	return nil
}

func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}
