package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/rules"
)

// routePlan is what routing decided for a batch.
type routePlan struct {
	matched, actions []string // rule names, and the actions as text
	why              []string // the matched rules' reasons (they may quote patient data)
	jobs             []Job
	// keep: nothing is to be done and the decision is a keep action (the
	// embedded default's fallback): the series goes to STATE/unrouted.
	keep bool
	// reason says why nothing is done, when jobs is empty.
	reason string
}

// decide turns the rules' decision for a batch into its jobs. It is pure:
// the same decision and batch give the same plan, job IDs included
// (<batch>-a<action index>), so that routing a batch again after a restart
// publishes the same jobs (deduplicated by JetStream).
func decide(d rules.Decision, b Batch, names []string, now time.Time) routePlan {
	var p routePlan
	for _, m := range d.Matched {
		p.matched = append(p.matched, m.Rule)
		p.why = append(p.why, m.Why...)
	}
	for _, a := range d.Actions {
		p.actions = append(p.actions, a.String())
	}
	for i, a := range d.Actions {
		if a.Kind == rules.Discard {
			continue
		}
		j := Job{ID: fmt.Sprintf("%s-a%d", b.ID, i), Batch: b.ID, Destinations: a.Destinations, Rule: a.Rule,
			StudyUID: b.Series.StudyUID, SeriesUID: b.Series.SeriesUID, Inputs: names, Created: now}
		switch a.Kind {
		case rules.Forward:
			j.Kind = "forward"
		case rules.Reconstruct:
			j.Kind, j.Reconstructor, j.Params = "reconstruct", a.Reconstructor, a.Params
		}
		p.jobs = append(p.jobs, j)
	}
	if len(p.jobs) == 0 {
		p.reason = "no action"
		if len(d.Actions) > 0 {
			p.reason = d.Actions[0].String()
			p.keep = d.Actions[0].Keep
		}
	}
	return p
}

// route decides what a completed series is and does it: audit, then queue
// its jobs, keep it unrouted, or delete it. A batch routed before
// (jobs.json present) only waits for its jobs' outcomes.
func (n *Node) route(b Batch) { n.routeAttempt(b, 0) }

// Routing that failed (the queue unreachable or refusing, the batch
// folder unreadable) is tried again with backoff — 1 s doubling to
// routeBackoffMax — not only at the next start.
var routeBackoff0, routeBackoffMax = time.Second, 5 * time.Minute

// retryRoute schedules attempt k+1 of routing b, unless the node stops.
func (n *Node) retryRoute(b Batch, k int, log zerolog.Logger) {
	wait := routeBackoff0
	for i := 0; i < k && wait < routeBackoffMax; i++ {
		wait *= 2
	}
	wait = min(wait, routeBackoffMax)
	if n.ctx.Err() != nil {
		return // stopping: the next start routes it
	}
	log.Warn().Int("attempt", k+1).Dur("retry_in", wait).Msg("routing failed; will retry")
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		select {
		case <-n.ctx.Done():
		case <-time.After(wait):
			if _, err := os.Stat(b.Dir); err == nil {
				n.routeAttempt(b, k+1)
			}
		}
	}()
}

func (n *Node) routeAttempt(b Batch, k int) {
	log := n.log.With().Str("batch", b.ID).Logger()
	files, err := BatchFiles(b.Dir)
	if err != nil {
		log.Error().Err(err).Msg("batch folder unreadable")
		n.retryRoute(b, k, log)
		return
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	var rec batchRecord
	if readJSON(filepath.Join(b.Dir, "jobs.json"), &rec) == nil {
		n.track(b.ID, rec.Jobs, names)
		return
	}
	if len(files) == 0 {
		os.RemoveAll(b.Dir)
		return
	}
	var subj rules.Subject
	h, err := ReadHeader(files[0])
	if err == nil {
		subj, err = h.Subject()
	}
	if err != nil {
		log.Warn().Err(err).Msg("first instance unreadable: the rules see no attributes")
		subj = nil
	}
	// A series an MRD session sent is routed as its config name chose
	// (mrd.go); every other series by the rules.
	d, fromMRD := n.mrdRouteFor(b)
	if !fromMRD {
		d = n.rules.Evaluate(subj, rules.Association{CallingAE: b.Series.CallingAE, CalledAE: b.Series.CalledAE, PeerAddr: b.Series.PeerAddr})
	}
	p := decide(d, b, names, time.Now().UTC())
	ar := n.audit.Event("series-routed", AuditInstancesAccessed, AuditEventID{}, "R", OutcomeSuccess).
		Str("batch", b.ID).Str("study_uid", b.Series.StudyUID).Str("series_uid", b.Series.SeriesUID).
		Int("instances", len(files)).Strs("rules_matched", p.matched).Strs("actions", p.actions).Patient(b.Series.PatientName, b.Series.PatientID)
	if n.audit.IncludePatient {
		ar = ar.Strs("why", p.why) // may quote attribute values, patient data among them
	}
	ar.Send()
	log.Info().Strs("rules", p.matched).Strs("actions", p.actions).Bool("fallback", d.Fallback).Int("instances", len(files)).Msg("series routed")
	switch {
	case len(p.jobs) > 0:
		if fromMRD {
			n.mrdRouted(b.Series.SeriesUID, p.jobs)
		}
		if !n.publish(b, p.jobs, files, names, log) {
			n.retryRoute(b, k, log)
		} else if fromMRD {
			n.mrdRouteDone(b.Series.SeriesUID)
		}
	case p.keep && n.cfg.Series.UnroutedRetention > 0:
		n.keepUnrouted(b, p, files, log)
	default:
		n.discardBatch(b, p, len(files), log)
	}
}

// discardBatch deletes a batch nothing is to be done with, audited.
func (n *Node) discardBatch(b Batch, p routePlan, count int, log zerolog.Logger) {
	n.audit.Event("series-discarded", AuditInstancesAccessed, AuditEventID{}, "D", OutcomeSuccess).Str("batch", b.ID).
		Str("study_uid", b.Series.StudyUID).Str("series_uid", b.Series.SeriesUID).Int("instances", count).
		Str("description", p.reason).Strs("rules_matched", p.matched).Send()
	log.Info().Msg("series discarded")
	if err := os.RemoveAll(b.Dir); err != nil {
		log.Error().Err(err).Msg("removing a discarded batch")
	}
}

// publish uploads a batch's inputs (for remote workers), queues its jobs
// and records them in jobs.json; false when that failed (the batch is
// routed again: publishing again is a no-op within the dedup window).
func (n *Node) publish(b Batch, jobs []Job, files, names []string, log zerolog.Logger) bool {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Minute)
	defer cancel()
	if n.queue.Shared {
		if err := n.queue.UploadInputs(ctx, b.ID, files); err != nil {
			log.Error().Err(err).Msg("uploading inputs")
			return false
		}
	}
	var ids []string
	for _, j := range jobs {
		if err := n.queue.Publish(ctx, j); err != nil {
			log.Error().Err(err).Msg("queueing")
			return false
		}
		ids = append(ids, j.ID)
	}
	if err := writeJSONDurable(filepath.Join(b.Dir, "jobs.json"), batchRecord{Jobs: ids}); err != nil {
		log.Error().Err(err).Msg("recording the queued jobs")
	}
	n.track(b.ID, ids, names)
	return true
}
