package gateway

import (
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Series no rule wants. The embedded default's fallback is a keep action:
// a series it gets was acknowledged with Success (PS3.4 §B.2.3: the SCP has
// taken the object over), so it is not deleted on the spot but moved to
// STATE/unrouted/<study>/<series>/, with an audit event and a WARN log, and
// removed by the sweeper after series.unrouted_retention, with another
// audit event (docs/gateway.md, "Series no rule wants").

// unroutedRecord is unrouted.json in a kept series folder.
type unroutedRecord struct {
	KeptAt    time.Time `json:"kept_at"` // the last time a generation was kept
	StudyUID  string    `json:"study_uid"`
	SeriesUID string    `json:"series_uid"`
	Batches   []string  `json:"batches"`
	Reason    string    `json:"reason"`
}

func (n *Node) unroutedDir() string { return filepath.Join(n.state, "unrouted") }

// keepUnrouted moves a batch's instances to the series' unrouted folder
// (later generations join the earlier ones) and removes the batch. The
// record is written first, so a crash part-way leaves files the sweeper
// knows about; the batch, routed again at the next start, moves the rest.
func (n *Node) keepUnrouted(b Batch, p routePlan, files []string, log zerolog.Logger) {
	dir := filepath.Join(n.unroutedDir(), b.Series.StudyUID, b.Series.SeriesUID)
	var rec unroutedRecord
	_ = readJSON(filepath.Join(dir, "unrouted.json"), &rec)
	rec.KeptAt, rec.StudyUID, rec.SeriesUID, rec.Reason = time.Now().UTC(), b.Series.StudyUID, b.Series.SeriesUID, p.reason
	if len(rec.Batches) == 0 || rec.Batches[len(rec.Batches)-1] != b.ID {
		rec.Batches = append(rec.Batches, b.ID)
	}
	err := mkdirDurable(dir)
	if err == nil {
		err = writeJSONDurable(filepath.Join(dir, "unrouted.json"), rec)
	}
	for _, f := range files {
		if err == nil {
			err = os.Rename(f, filepath.Join(dir, filepath.Base(f)))
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		log.Error().Err(err).Str("folder", dir).Msg("keeping an unrouted series; the batch is routed again at the next start")
		return
	}
	retention := time.Duration(n.cfg.Series.UnroutedRetention)
	n.audit.Event("series-unrouted", AuditInstancesAccessed, AuditEventID{}, "U", OutcomeMinorFailure).Str("batch", b.ID).
		Str("study_uid", b.Series.StudyUID).Str("series_uid", b.Series.SeriesUID).Int("instances", len(files)).
		Str("description", p.reason).Str("folder", dir).Str("retention", retention.String()).
		Patient(b.Series.PatientName, b.Series.PatientID).Send()
	log.Warn().Str("folder", dir).Int("instances", len(files)).Str("reason", p.reason).Dur("retention", retention).
		Msg("no rule wants this series: kept unrouted, removed after the retention (series.unrouted_retention)")
	if err := os.RemoveAll(b.Dir); err != nil {
		log.Error().Err(err).Msg("removing a kept batch")
	}
}

// sweepUnrouted removes the unrouted series kept longer than the
// retention at now, each with an audit event.
func (n *Node) sweepUnrouted(now time.Time) {
	retention := time.Duration(n.cfg.Series.UnroutedRetention)
	studies, _ := os.ReadDir(n.unroutedDir())
	for _, st := range studies {
		studyDir := filepath.Join(n.unroutedDir(), st.Name())
		series, _ := os.ReadDir(studyDir)
		for _, se := range series {
			dir := filepath.Join(studyDir, se.Name())
			var rec unroutedRecord
			if err := readJSON(filepath.Join(dir, "unrouted.json"), &rec); err != nil {
				// No record (a crash before it was written): the
				// folder's time stands in.
				fi, err := os.Stat(dir)
				if err != nil {
					continue
				}
				rec = unroutedRecord{KeptAt: fi.ModTime(), StudyUID: st.Name(), SeriesUID: se.Name()}
			}
			if now.Sub(rec.KeptAt) < retention {
				continue
			}
			count, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
			if err := os.RemoveAll(dir); err != nil {
				n.log.Error().Err(err).Str("folder", dir).Msg("removing an expired unrouted series")
				continue
			}
			n.audit.Event("unrouted-expired", AuditInstancesAccessed, AuditEventID{}, "D", OutcomeSuccess).
				Str("study_uid", rec.StudyUID).Str("series_uid", rec.SeriesUID).Strs("batches", rec.Batches).
				Int("instances", len(count)).Str("description", "kept unrouted for "+retention.String()+" (series.unrouted_retention)").Send()
			n.log.Info().Str("folder", dir).Int("instances", len(count)).Time("kept_at", rec.KeptAt).Msg("unrouted series removed after the retention")
		}
		_ = os.Remove(studyDir) // only when empty
	}
}

// sweepUnroutedEvery sweeps at start and then every interval until the
// node stops: a hundredth of the retention, between a second and an hour.
func (n *Node) sweepUnroutedEvery() {
	every := min(max(time.Duration(n.cfg.Series.UnroutedRetention)/100, time.Second), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n.sweepUnrouted(time.Now())
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}
