package store

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// storeMetrics are the store's metrics, all in the one Set it was given.
type storeMetrics struct {
	appendedBytes    *metrics.Counter
	appendedRecords  *metrics.Counter
	appendedMessages *metrics.Counter
	appendErrors     *metrics.Counter
	fsyncSeconds     *metrics.PrometheusHistogram
	groupCommit      *metrics.PrometheusHistogram
	corruptRecords   *metrics.Counter
	corruptIndexRuns *metrics.Counter
	tornTails        *metrics.Counter
	deletedSegments  *metrics.Counter
	recoverySeconds  *metrics.Gauge
	diskUsed         *metrics.Gauge
	diskFull         *metrics.Gauge
	checkpointPos    atomic.Int64
}

func newStoreMetrics(s *Store, set *metrics.Set) *storeMetrics {
	m := &storeMetrics{
		appendedBytes:    set.NewCounter("sluice_store_appended_bytes_total"),
		appendedRecords:  set.NewCounter("sluice_store_appended_batches_total"),
		appendedMessages: set.NewCounter("sluice_store_appended_messages_total"),
		appendErrors:     set.NewCounter("sluice_store_append_errors_total"),
		fsyncSeconds: set.NewPrometheusHistogramExt("sluice_store_fsync_duration_seconds",
			[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
		groupCommit: set.NewPrometheusHistogramExt("sluice_store_group_commit_batches",
			[]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}),
		corruptRecords:   set.NewCounter("sluice_store_corrupt_records_total"),
		corruptIndexRuns: set.NewCounter("sluice_store_corrupt_key_index_runs_total"),
		tornTails:        set.NewCounter("sluice_store_torn_tails_truncated_total"),
		deletedSegments:  set.NewCounter("sluice_store_retention_deleted_segments_total"),
		recoverySeconds:  set.NewGauge("sluice_store_recovery_duration_seconds", nil),
		diskUsed:         set.NewGauge("sluice_store_disk_used_ratio", nil),
		diskFull:         set.NewGauge("sluice_store_disk_full", nil),
	}
	set.NewGauge("sluice_store_segments", func() float64 {
		if s.log == nil {
			return 0
		}
		return float64(len(s.log.Segments()))
	})
	set.NewGauge("sluice_store_log_bytes", func() float64 {
		if s.log == nil {
			return 0
		}
		return float64(s.log.End() - s.log.Start())
	})
	set.NewGauge("sluice_store_checkpoint_position_bytes", func() float64 { return float64(m.checkpointPos.Load()) })
	set.NewGauge("sluice_store_unflushed_bytes", func() float64 {
		if s.log == nil {
			return 0
		}
		return float64(s.log.End() - s.durableEnd.Load())
	})
	return m
}

// Metrics returns the set holding the store's metrics.
func (s *Store) Metrics() *metrics.Set { return s.cfg.Metrics }
