package hostmetrics

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// sourceMetrics are the source's own metrics, in the agent's set.
type sourceMetrics struct {
	passes, series, records *metrics.Counter
	duration                *metrics.Histogram
	errors                  map[string]*metrics.Counter // by collector
}

func newSourceMetrics(set *metrics.Set, name string, collectors []string) *sourceMetrics {
	m := &sourceMetrics{
		passes:   set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_hostmetrics_passes_total{source=%q}`, name)),
		series:   set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_hostmetrics_series_total{source=%q}`, name)),
		records:  set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_hostmetrics_records_total{source=%q}`, name)),
		duration: set.GetOrCreateHistogram(fmt.Sprintf(`sluice_agent_hostmetrics_pass_duration_seconds{source=%q}`, name)),
		errors:   make(map[string]*metrics.Counter, len(collectors)),
	}
	for _, c := range collectors {
		m.errors[c] = set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_hostmetrics_collector_errors_total{source=%q,collector=%q}`, name, c))
	}
	return m
}
