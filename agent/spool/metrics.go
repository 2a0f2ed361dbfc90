package spool

import "github.com/VictoriaMetrics/metrics"

type spoolMetrics struct {
	appended, acked, dropped, corrupt, blocked *metrics.Counter
}

func newSpoolMetrics(set *metrics.Set, s *Spool) *spoolMetrics {
	set.GetOrCreateGauge(`sluice_agent_spool_bytes`, func() float64 { return float64(s.Size()) })
	set.GetOrCreateGauge(`sluice_agent_spool_entries`, func() float64 { return float64(s.Len()) })
	return &spoolMetrics{
		appended: set.GetOrCreateCounter(`sluice_agent_spool_appended_entries_total`),
		acked:    set.GetOrCreateCounter(`sluice_agent_spool_acked_entries_total`),
		dropped:  set.GetOrCreateCounter(`sluice_agent_spool_dropped_entries_total`),
		corrupt:  set.GetOrCreateCounter(`sluice_agent_spool_corrupt_entries_total`),
		blocked:  set.GetOrCreateCounter(`sluice_agent_spool_blocked_appends_total`),
	}
}
