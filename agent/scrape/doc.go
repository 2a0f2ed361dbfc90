// Package scrape is the agent's prometheus_scrape source: it scrapes
// Prometheus text-format and OpenMetrics endpoints as a Prometheus server
// would, and emits each scrape of each target as one metrics record (a
// protobuf prompb.WriteRequest, uncompressed, keyed job + "/" + instance).
//
// It owns one goroutine per live target, plus the Run goroutine that
// refreshes the target set (static targets and file_sd files, re-read
// when their mtime changes) once per interval. Run stops and waits for
// every target goroutine before it returns.
//
// Invariants, as Prometheus keeps them:
//   - target labels come from target relabeling of __address__,
//     __scheme__, __metrics_path__, __param_*, job and the file_sd
//     labels; `instance` defaults to __address__; labels starting with
//     "__" are dropped after relabeling; a target relabeled away is not
//     scraped.
//   - honor_labels false renames a scraped label that conflicts with a
//     target label to exported_<name>; true keeps the scraped one.
//   - each scrape adds up, scrape_duration_seconds,
//     scrape_samples_scraped and scrape_samples_post_metric_relabeling.
//   - a series seen in a target's previous scrape and missing from this
//     one gets a staleness marker (value.StaleNaN) at this scrape's time;
//     a failed scrape marks every series of the previous scrape stale; a
//     target that leaves the target set marks all of its series stale,
//     the synthetic ones too. Series with explicit timestamps get no
//     markers, as in Prometheus.
//   - samples without a timestamp get the scrape's start time.
//   - labels are sorted and never empty-valued.
//
// Native histograms are ignored (the parsers are asked to, and only
// classic float series are emitted); classic histograms and summaries
// come out as their _bucket/_sum/_count/quantile series.
//
// Its own metrics, labeled {source="<name>"}: sluice_agent_scrapes_total,
// sluice_agent_scrape_errors_total, sluice_agent_scrape_duration_seconds
// (histogram) and sluice_agent_scrape_targets.
//
// Per sample, a scrape does one map lookup, keyed by a hash of the raw
// series bytes, in a per-target cache of the series' final labels; a
// series seen before costs no label building, relabeling or allocation.
// The cache keeps each distinct label pair of a target once, already
// protobuf-encoded, and a series as the ids of its pairs (about a byte a
// label: intern.go), and the WriteRequest body is written directly from
// those bytes (the encoding is prompb's wire format; the tests compare
// every body with prompb's). Scrape bodies come from a pool shared by the
// targets, which are spread over the interval. With 100 targets of 1,000
// series at 1s, the live heap is near 20 MB, the label store 1.5 MB of it.
package scrape
