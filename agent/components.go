package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/hostmetrics"
	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/agent/tail"
	"github.com/sluicehq/sluice/pipelines/config"
)

// sourceEnv is what every source gets from the agent.
type sourceEnv struct {
	host     string
	stateDir string // under the spool directory: sources' checkpoints
	lg       *slog.Logger
	set      *metrics.Set
}

// buildSource makes the source named name from its configuration. This is
// the one list of source types the agent knows; a type the config schema
// accepts but that is not listed here is refused at start with a clear
// error rather than ignored.
func buildSource(name string, sc config.Source, env sourceEnv) (source.Source, error) {
	host, lg, set := env.host, env.lg, env.set
	switch sc.Type {
	case "file":
		if sc.Multiline != nil {
			return nil, fmt.Errorf("source %s: multiline is not available in this build of sluice yet", name)
		}
		return tail.New(tail.Config{
			Name: name, Include: sc.Include, Exclude: sc.Exclude, Topic: sc.Topic, Key: sc.Key, Fields: sc.Fields,
			StartAt: sc.StartAt, StateDir: filepath.Join(env.stateDir, "files", name), MaxLineBytes: int(sc.MaxLineBytes),
			Host: host, Logger: lg, Metrics: set,
		})
	case "host_metrics":
		return hostmetrics.New(hostmetrics.Config{
			Name: name, Topic: sc.Topic, Interval: sc.Interval.D(), Job: sc.Job, Instance: host,
			Collectors: sc.Collectors, Logger: lg, Metrics: set,
		})
	}
	return nil, fmt.Errorf("source %s: type %s is not available in this build of sluice yet", name, sc.Type)
}
