package spool

import "github.com/VictoriaMetrics/metrics"

type spoolMetrics struct {
	appended, acked, dropped, corrupt, tornTails *metrics.Counter
	blocked                                      *metrics.FloatCounter
}

// newSpoolMetrics registers the spool's metrics in set. One spool per set:
// the gauges of a second one would read the first.
func newSpoolMetrics(set *metrics.Set, s *Spool) *spoolMetrics {
	set.GetOrCreateGauge(`sluice_agent_spool_size_bytes`, func() float64 { return float64(s.Size()) })
	set.GetOrCreateGauge(`sluice_agent_spool_records`, func() float64 { return float64(s.Len()) })
	return &spoolMetrics{
		appended:  set.GetOrCreateCounter(`sluice_agent_spool_appended_records_total`),
		acked:     set.GetOrCreateCounter(`sluice_agent_spool_acked_records_total`),
		dropped:   set.GetOrCreateCounter(`sluice_agent_spool_dropped_records_total`),
		corrupt:   set.GetOrCreateCounter(`sluice_agent_spool_corrupt_skipped_total`),
		tornTails: set.GetOrCreateCounter(`sluice_agent_spool_torn_tails_cut_total`),
		blocked:   set.GetOrCreateFloatCounter(`sluice_agent_spool_append_blocked_seconds_total`),
	}
}
