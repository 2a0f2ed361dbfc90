package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/hostmetrics"
	"github.com/sluicehq/sluice/agent/receive/httplog"
	"github.com/sluicehq/sluice/agent/receive/remotewrite"
	"github.com/sluicehq/sluice/agent/receive/syslog"
	"github.com/sluicehq/sluice/agent/scrape"
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
		var ml *tail.Multiline
		if m := sc.Multiline; m != nil {
			ml = &tail.Multiline{StartPattern: m.StartPattern, ContinuationPattern: m.ContinuationPattern,
				MaxLines: m.MaxLines, FlushTimeout: m.FlushTimeout.D()}
		}
		return tail.New(tail.Config{
			Name: name, Include: sc.Include, Exclude: sc.Exclude, Topic: sc.Topic, Key: sc.Key, Fields: sc.Fields,
			StartAt: sc.StartAt, StateDir: filepath.Join(env.stateDir, "files", name), MaxLineBytes: int(sc.MaxLineBytes),
			Multiline: ml, Host: host, Logger: lg, Metrics: set,
		})
	case "host_metrics":
		return hostmetrics.New(hostmetrics.Config{
			Name: name, Topic: sc.Topic, Interval: sc.Interval.D(), Job: sc.Job, Instance: host,
			Collectors: sc.Collectors, Logger: lg, Metrics: set,
		})
	case "prometheus_scrape":
		return scrape.New(scrape.Config{
			Name: name, Job: sc.Job, Topic: sc.Topic, Targets: sc.Targets, FileSD: sc.FileSD, MetricsPath: sc.MetricsPath,
			Scheme: sc.Scheme, Interval: sc.Interval.D(), Timeout: sc.Timeout.D(), HonorLabels: sc.HonorLabels,
			RelabelConfigs: sc.RelabelConfigs, MetricRelabelConfigs: sc.MetricRelabelConfigs, Logger: lg, Metrics: set,
		})
	case "prometheus_remote_write":
		return remotewrite.New(remotewrite.Config{Name: name, Listen: sc.Listen, Topic: sc.Topic, Fields: sc.Fields,
			Logger: lg, Metrics: set})
	case "http":
		return httplog.New(httplog.Config{Name: name, Listen: sc.Listen, Topic: sc.Topic, Fields: sc.Fields, Host: host,
			Logger: lg, Metrics: set})
	case "syslog":
		return syslog.New(syslog.Config{Name: name, Listen: sc.Listen, Protocol: sc.Protocol, Topic: sc.Topic,
			Fields: sc.Fields, Logger: lg, Metrics: set})
	}
	return nil, fmt.Errorf("source %s: type %s is not available in this build of sluice yet", name, sc.Type)
}
