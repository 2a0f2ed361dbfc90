package agent

import (
	"fmt"
	"log/slog"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/hostmetrics"
	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/pipelines/config"
)

// buildSource makes the source named name from its configuration. This is
// the one list of source types the agent knows; a type the config schema
// accepts but that is not listed here is refused at start with a clear
// error rather than ignored.
func buildSource(name string, sc config.Source, host string, lg *slog.Logger, set *metrics.Set) (source.Source, error) {
	switch sc.Type {
	case "host_metrics":
		return hostmetrics.New(hostmetrics.Config{
			Name: name, Topic: sc.Topic, Interval: sc.Interval.D(), Job: sc.Job, Instance: host,
			Collectors: sc.Collectors, Logger: lg, Metrics: set,
		})
	}
	return nil, fmt.Errorf("source %s: type %s is not available in this build of sluice yet", name, sc.Type)
}
