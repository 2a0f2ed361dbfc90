package ship

import "github.com/VictoriaMetrics/metrics"

type shipMetrics struct {
	shipped, spooled, dropped, corrupt, rewinds *metrics.Counter
}

func newShipMetrics(set *metrics.Set, s *Shipper) *shipMetrics {
	set.GetOrCreateGauge(`sluice_agent_ship_inflight_bytes`, func() float64 { return float64(s.inflight.Load()) })
	set.GetOrCreateGauge(`sluice_agent_ship_spooling`, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.spooling {
			return 1
		}
		return 0
	})
	return &shipMetrics{
		shipped: set.GetOrCreateCounter(`sluice_agent_ship_records_total`),
		spooled: set.GetOrCreateCounter(`sluice_agent_ship_spooled_records_total`),
		dropped: set.GetOrCreateCounter(`sluice_agent_ship_dropped_records_total`),
		corrupt: set.GetOrCreateCounter(`sluice_agent_ship_corrupt_spool_entries_total`),
		rewinds: set.GetOrCreateCounter(`sluice_agent_ship_spool_rewinds_total`),
	}
}
