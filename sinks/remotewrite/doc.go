// Package remotewrite is the prometheus_remote_write sink: it sends the
// series of metric events to a Prometheus remote write receiver
// (Prometheus, VictoriaMetrics, Mimir, Thanos...).
//
//	sinks:
//	  vm:
//	    type: prometheus_remote_write
//	    url: http://127.0.0.1:8428/api/v1/write
//	    protocol: v1                  # v1 (default) | v2
//	    shards: 4                     # parallel senders
//	    max_samples_per_request: 2000
//	    retry: {initial_backoff: 100ms, max_backoff: 30s, max_elapsed: 1m}
//	    headers: {X-Scope-OrgID: team-a}   # and basic_auth, bearer_token(_file), tls, timeout
//
// # Wire format
//
// v1 is the Remote-Write 1.0 spec: a prometheus.WriteRequest, snappy
// block-compressed (not framed), POSTed with Content-Encoding: snappy,
// Content-Type: application/x-protobuf, User-Agent: sluice/<version> and
// X-Prometheus-Remote-Write-Version: 0.1.0. The batch's metadata (deduplicated
// by metric family) goes in the first request of shard 0.
//
// v2 is the Remote-Write 2.0 spec: an io.prometheus.write.v2.Request with
// a symbols table (symbols[0] is ""), Content-Type
// application/x-protobuf;proto=io.prometheus.write.v2.Request and
// X-Prometheus-Remote-Write-Version: 2.0.0. Each series carries the type,
// help and unit of the events' Metadata for its metric family: the one
// named as the series, else as the series without a suffix such as
// _total, _bucket, _sum or _count. A series with both float and
// histogram samples is sent as two series, as the spec wants. When a
// 2xx response's X-Prometheus-Remote-Write-Samples-Written (or
// -Histograms-Written) says fewer were written than sent, the rest is
// counted as dropped (reason not_written); the spec says not to retry.
// A receiver that does not take v2 answers 415, a 4xx like any other:
// the samples are dropped and counted, so use v1 with such receivers
// (Prometheus before 3.0 and other receivers of 1.0 only).
//
// # What is sent
//
// Series are made valid the way the spec wants before they are sent:
// labels sorted by name, labels with an empty value left out (an empty
// value means no label). A series with no __name__ (reason no_name) or a
// label name twice (reason duplicate_label) is dropped and counted: which
// of two values was meant cannot be known, and a receiver would refuse
// the whole request for it. Series that are already valid are sent from
// the events' own slices: the sink never changes an event, since the
// same events may go to other sinks and Write may be called again with
// them.
//
// A series' samples from every event of the batch are merged and sorted
// by timestamp. Of samples with the same timestamp only the last (the
// latest event's) is sent and the others are counted (reason
// duplicate_timestamp): a receiver refuses a second value for a
// timestamp, and would refuse the whole request with it. Sample values
// are copied bit for bit, so staleness markers (the StaleNaN of
// model/value) pass through as they are.
//
// # Ordering and sharding
//
// A series goes to shard hash(labels) % shards. Within a Write each
// shard has one goroutine that sends its requests one after the other,
// and Write waits for all of them: so one sender sends all of a series'
// samples, in timestamp order, even when a series is split across
// requests of at most max_samples_per_request samples. Receivers refuse
// out-of-order samples, so this is what makes the sink correct, not
// only fast. Nothing is kept between Writes but buffers' capacity.
//
// # Failures
//
// A 2xx is success. 5xx, 429 (and 408) and network errors are retried
// with back-off from retry, waiting at least what a Retry-After header
// asks; after retry.max_elapsed Write returns the last error and the
// collector applies the sink's on_failure. The first shard to give up
// stops the others. Any other 4xx means the request itself is wrong and
// retrying cannot help: its samples are dropped and counted (reason
// 4xx), the response's first 256 bytes are logged, and Write goes on.
// Write is at-least-once: a batch given again after an error resends
// what some shards had already delivered.
//
// # Metrics
//
// Labelled sink="<name>":
//
//	sluice_collector_sink_samples_sent_total              samples (float and histogram) accepted
//	sluice_collector_sink_requests_total{code}            responses by HTTP status
//	sluice_collector_sink_retries_total                   requests retried
//	sluice_collector_sink_request_duration_seconds        histogram of one attempt
//	sluice_collector_sink_dropped_total{reason}           reason not_metrics counts log events
//	                                                      given to the sink (they are dropped:
//	                                                      route logs elsewhere); no_name,
//	                                                      duplicate_label, duplicate_timestamp,
//	                                                      4xx and not_written count samples
package remotewrite
