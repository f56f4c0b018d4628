package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// QuarantineCrashed quarantines a job whose worker process died while
// running it (jobs.isolation: process): at once, after one crash, since a
// job that kills its worker will kill the next one too. Its inputs go to
// STATE/quarantine/<job>/ with reason.json, its status becomes
// "quarantined" (a redelivery finds it and is acknowledged without
// running), and the failure is audited. The job comes from the child and
// is validated again here.
func (n *Node) QuarantineCrashed(job Job, worker, reason string) error {
	if err := job.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	if s, ok := n.queue.Status(ctx, job.ID); ok {
		return fmt.Errorf("job %s already has an outcome (%s)", job.ID, s.State)
	}
	dir := filepath.Join(n.state, "quarantine", job.ID)
	if err := mkdirDurable(dir); err != nil {
		return err
	}
	src := filepath.Join(n.state, "batches", job.Batch)
	for _, in := range job.Inputs {
		if err := linkOrCopy(filepath.Join(src, in), filepath.Join(dir, in)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	at := time.Now().UTC()
	if err := writeJSONDurable(filepath.Join(dir, "reason.json"), quarantineReason{Job: job, Reason: reason, Attempts: 1, Worker: worker, At: at}); err != nil {
		return err
	}
	if err := n.queue.setStatus(ctx, job.ID, JobStatus{State: "quarantined", Worker: worker, At: at, Reason: reason}); err != nil {
		return err
	}
	n.metrics.Jobs.WithLabelValues("quarantined").Inc()
	n.log.Error().Str("job", job.ID).Str("worker", worker).Str("reason", reason).Str("quarantine", dir).Msg("job killed its worker; inputs quarantined")
	n.audit.Event("job-failed", AuditInstancesAccessed, AuditEventID{}, "E", OutcomeSerious).Str("job", job.ID).
		Str("kind", job.Kind).Str("worker", worker).Str("study_uid", job.StudyUID).Str("series_uid", job.SeriesUID).
		Int("attempt", 1).Str("description", reason).Str("quarantine", dir).Send()
	return nil
}
