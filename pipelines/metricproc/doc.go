// Package metricproc holds the processors that work on metrics: relabel,
// which rewrites the labels of metric events' series the way
// Prometheus's metric_relabel_configs do, and log_to_metric, which
// counts and measures log events into metric series.
//
// # relabel
//
//	processors:
//	  - relabel:
//	      configs:
//	        - {source_labels: [__name__], regex: "http_.*|node_.*", action: keep}
//	        - {source_labels: [instance], regex: "(.*):\\d+", target_label: host, replacement: "$1"}
//	        - {regex: "pod_template_hash", action: labeldrop}
//
// The rules are Prometheus's relabel.Config, written and validated as in
// a Prometheus config (label names are checked with Prometheus 3's
// default, UTF-8 validation). They are applied in order to every series
// of a KindMetric event; log events pass untouched. A series a rule
// drops, or that is left with no labels, is removed and counted in
// sluice_collector_relabel_series_dropped_total{processor}; an event
// left with no series is dropped (the collector counts that). A series'
// labels are written back sorted; a series no rule changed keeps its
// labels as they were.
//
// Known limitation: the config loader lets relabel.Config decode itself,
// without yaml.v3's strict mode, so a misspelt key inside a rule
// ("target:" for "target_label:") is ignored rather than reported.
//
// Relabelling is on the metrics hot path, so it does not go through
// labels.Labels and labels.Builder: labelSet mirrors labels.Builder's
// operations directly on the series' prompb labels, and each rule is
// run as relabel.ProcessBuilder would run it (TestRelabelMatchesPrometheus
// and FuzzRelabelMatchesPrometheus compare the two on random rules and
// labels). Boolean matches use Prometheus's FastRegexMatcher, or compare
// the literals of a regex that is a few of them ("a|b"); a replace
// remembers its last input and result (a batch's series mostly share a
// job and an instance); strings a rule creates are copied into large
// chunks (arena) and label slices that grow are carved from large
// chunks (labelArena), never written again once handed out, so that
// relabelling a series allocates nothing of its own. Scratch space is
// per goroutine (a sync.Pool), so Process may be called concurrently.
//
// # log_to_metric
//
//	processors:
//	  - log_to_metric:
//	      interval: 15s        # how often the values are emitted
//	      drop_logs: false     # drop the log events once counted
//	      max_series: 10000    # distinct series kept, over all metrics
//	      metrics:
//	        - {name: http_requests_total, type: counter, labels: {status: "{{ status }}", host: "{{ meta.host }}"}}
//	        - {name: http_request_seconds, type: histogram, field: duration, buckets: [0.1, 0.5, 1]}
//	        - {name: queue_depth, type: gauge, field: depth, condition: 'kind == "log" && meta.env == "prod"'}
//
// Each log event is tested against every metric: when the metric's
// condition holds (an expr-lang expression over the event's fields by
// name, message, meta and kind, compiled once) and the event has the
// metric's numeric field, the series named by the metric and its label
// templates is updated: a counter adds 1 (or the field's value), a gauge
// takes the value, a histogram observes it. Metric events pass through.
//
// State: every series' value is cumulative from the start of the
// process; a counter never resets while it runs (a restart resets it, as
// any Prometheus counter). Memory is bounded by max_series: an event
// that would create a series past it is not counted in that metric, and
// counted in sluice_collector_processor_dropped_total{processor,
// reason="max_series"}. Series are never forgotten, so a label with
// unbounded values (a user id, a path with ids) fills the cap: label
// templates should name fields with few values.
//
// Several collectors sharing a consumer group each count their share of
// the logs into series with the same labels, which a backend would see
// as one series jumping between values: give each collector its own
// label, e.g. labels: {collector: "${HOSTNAME}"}. Series are emitted
// until the process ends, so a gauge keeps its last value.
//
// Emission: when Process is called and interval has passed since the last
// emission (or since the processor was made), one KindMetric event is
// appended to the batch, after the events passed on, carrying the
// current value of every series with the timestamp now (ms): series have
// __name__ and sorted labels; a histogram is written as Prometheus's
// classic series, name_bucket{le} (cumulative, le formatted as
// Prometheus does, "+Inf" last), name_sum and name_count; the event's
// Metadata gives each metric's type. The event's slices are its own, so
// a later processor (relabel) may change them. Nothing is emitted while
// there is no series, nor between batches: a pipeline that receives no
// events emits nothing (the interval is a lower bound). The values of
// the last interval are not emitted at shutdown.
//
// An event a metric does not count for want of a value (the field is
// missing, not a number, not finite, or negative for a counter) is
// counted in sluice_collector_log_to_metric_skipped_total{processor,
// metric,reason="no_value"}; a condition that fails to run (comparing a
// string with a number) in reason="condition_error", and logged at most
// once a minute. A missing field is nil in a condition: write
// `status != nil && status >= 500` when the field may be absent.
//
// Process holds one lock for the batch; per event it allocates nothing
// once its series exist (BenchmarkLogToMetric): series are found by a key
// built in a reused buffer (the metric's index, then each label value
// followed by its length), and label values are formatted into that
// buffer.
package metricproc
