// Package http is the http sink: it POSTs (or PUTs) events to any HTTP
// endpoint as batches of JSON, for backends that take newline-delimited
// JSON (Elasticsearch-style ingest, Vector, Fluent Bit, a log SaaS) or a
// JSON array.
//
// Each event is encoded by event.AppendJSON (the canonical encoding:
// fields with "timestamp" and "meta"; metric events as series). With
// `encoding: ndjson` (the default) a body is one event per line, each
// line ending in "\n", sent as application/x-ndjson; with
// `encoding: json_array` it is `[e1,e2,...]`, sent as application/json.
//
// Invariants:
//   - A body (before compression) is at most batch_bytes; a Write sends
//     as many requests as it needs, in the batch's order, one after the
//     other. An event larger than batch_bytes on its own is sent alone.
//   - Each request is retried on its own (network errors, 5xx, 408 and
//     429, waiting at least what Retry-After asks) for up to
//     retry.max_elapsed; then Write returns the error and the collector
//     applies on_failure. The collector repeats a whole batch, so a
//     backend may see the requests that had succeeded again: delivery is
//     at-least-once.
//   - A request answered with another 4xx is not retried: its events are
//     dropped, counted and logged with the backend's answer.
//   - Nothing is kept across Writes except reusable buffers bounded by
//     batch_bytes.
//
// Series: sluice_collector_sink_requests_total{sink, code} (responses by
// status), sluice_collector_sink_retries_total{sink},
// sluice_collector_sink_sent_bytes_total{sink} (body bytes sent, after
// compression) and sluice_collector_sink_events_dropped_total{sink,
// reason="rejected"}.
package http
