package collector

import (
	"github.com/sluicehq/sluice/pipelines/metricproc"
	"github.com/sluicehq/sluice/pipelines/parse"
	"github.com/sluicehq/sluice/pipelines/transform"
	"github.com/sluicehq/sluice/sinks/file"
	"github.com/sluicehq/sluice/sinks/http"
	"github.com/sluicehq/sluice/sinks/kafka"
	"github.com/sluicehq/sluice/sinks/loki"
	"github.com/sluicehq/sluice/sinks/remotewrite"
	"github.com/sluicehq/sluice/sinks/stdout"
)

// builtins is the one list of the processor and sink types this build of
// sluice has. A type is added here and nowhere else.
func builtins() *registry {
	return &registry{
		processors: map[string]processorFactory{
			"parse_json":    processor(parse.NewJSON),
			"parse_logfmt":  processor(parse.NewLogfmt),
			"parse_regex":   processor(parse.NewRegex),
			"parse_syslog":  processor(parse.NewSyslog),
			"timestamp":     processor(parse.NewTimestamp),
			"set":           processor(transform.NewSet),
			"rename":        processor(transform.NewRename),
			"remove":        processor(transform.NewRemove),
			"redact":        processor(transform.NewRedact),
			"filter":        processor(transform.NewFilter),
			"route":         processor(transform.NewRoute),
			"sample":        processor(transform.NewSample),
			"throttle":      processor(transform.NewThrottle),
			"relabel":       processor(metricproc.NewRelabel),
			"log_to_metric": processor(metricproc.NewLogToMetric),
		},
		sinks: map[string]sinkFactory{
			"file":                    sink(file.New),
			"prometheus_remote_write": sink(remotewrite.New),
			"kafka":                   sink(kafka.New),
			"loki":                    sink(loki.New),
			"http":                    sink(http.New),
			"stdout":                  sink(stdout.New),
		},
	}
}
