// Package loki is the loki sink: it pushes log events to Grafana Loki's
// push API (POST /loki/api/v1/push, JSON).
//
// Each event becomes one entry of a stream. The stream is the set of
// labels the `labels` templates expand to for that event (labels that
// expand empty are left out); the entry is the event's time in Unix
// nanoseconds (a string, as Loki wants), the line (the message field with
// `encoding: text`, the event's canonical JSON with `encoding: json`) and,
// when `structured_metadata` is set, Loki 3 structured metadata as the
// entry's third element:
//
//	{"streams":[
//	  {"stream":{"host":"web-1","source":"app"},
//	   "values":[["1700000000000000000","GET / 200"],
//	             ["1700000000500000000","GET /x 404",{"trace_id":"abc"}]]}]}
//
// Invariants:
//   - A Write groups its events by stream (streams in order of first
//     appearance) and sorts each stream's entries by time, events of the
//     same time keeping their order, so one push never holds a stream's
//     entries out of order.
//   - A push body (before compression) is at most batch_bytes; a Write
//     sends as many pushes as it needs, one after the other, each retried
//     on its own (network errors, 5xx and 429, waiting at least what
//     Retry-After asks) for up to retry.max_elapsed. A Write that fails
//     after some pushes succeeded is sent again whole by the collector:
//     Loki drops an entry identical to one already in its stream (same
//     time and line), so a repeat does not duplicate lines.
//   - Nothing is kept across Writes except reusable buffers, whose size is
//     bounded by batch_bytes and the batch.
//
// What is dropped rather than sent, and counted in
// sluice_collector_sink_events_dropped_total{sink, reason}:
//   - reason="not_logs": metric events, which Loki does not store;
//   - reason="no_labels": log events all of whose labels expand empty
//     (Loki refuses a stream without labels);
//   - reason="rejected": the events of a push Loki answered with a 4xx
//     other than 408 and 429 (a line too long, too old, a limit): sending
//     it again cannot help, so it is logged with Loki's answer and dropped.
//
// Other series: sluice_collector_sink_requests_total{sink, code} counts
// responses by status, sluice_collector_sink_retries_total{sink} retried
// pushes, sluice_collector_sink_sent_bytes_total{sink} the bytes of push
// bodies sent (after compression).
package loki
