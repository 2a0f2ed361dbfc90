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
// Relabelling is on the metrics hot path, so it does not go through
// labels.Labels and labels.Builder: labelSet mirrors labels.Builder's
// operations directly on the series' prompb labels, and each rule is
// run as relabel.ProcessBuilder would run it (TestRelabelMatchesPrometheus
// and FuzzRelabelMatchesPrometheus compare the two on random rules and
// labels). Boolean matches use Prometheus's FastRegexMatcher; a replace
// remembers its last input and result (a batch's series mostly share a
// job and an instance); strings a rule creates are copied into large
// chunks (arena) and label slices that grow are carved from large
// chunks (labelArena), never written again once handed out, so that
// relabelling a series allocates nothing of its own. Scratch space is
// per goroutine (a sync.Pool), so Process may be called concurrently.
//
// # log_to_metric
//
// See logtometric.go: its Config documents the keys.
package metricproc
