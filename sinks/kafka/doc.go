// Package kafka is the collector's `type: kafka` sink: it writes events to
// Kafka topics through kafka-go, so that a pipeline's output can feed an
// existing Kafka-based system (or bridge a sluice broker to Kafka).
//
// # What a message is
//
// Each event becomes one Kafka message:
//   - value: the event as JSON (event.AppendJSON; encoding: json, the
//     default) or its message field alone (encoding: text). Metric events
//     are always JSON, one message per event (one remote-write batch).
//   - topic: the `topic` template expanded for the event ("logs",
//     "logs-{{ meta.host }}", "{{ service }}"); characters Kafka does not
//     allow in topic names become '_'. An event whose topic expands to
//     nothing is dropped and counted, since no topic can hold it.
//   - key: the `key` template, when set; kafka-go's hash balancer maps a
//     key to one partition so one key's events stay in order. Without a
//     key (or when it expands to nothing) messages are spread round-robin.
//   - headers: every meta key, sorted by name (headers_from_meta, default
//     true).
//   - timestamp: the event's time.
//
// # Delivery
//
// Write hands the whole batch to a synchronous kafka-go Writer with
// acks=all and returns nil only once Kafka acknowledged every message.
// Failures the broker says are temporary (leader moves, missing topics,
// network errors) are retried with back-off from the `retry` key until
// max_elapsed; only the messages that failed are written again. Errors
// Kafka says are permanent (a message too large, an invalid topic, no
// authorisation) are returned at once, to the collector's on_failure
// policy. A retried Write may store some messages twice: delivery is
// at-least-once, as everywhere in sluice.
//
// kafka-go's own retries are switched off (MaxAttempts 1) so that the
// sink's `retry` settings alone decide how long a batch is retried.
//
// # Metrics
//
// Labelled sink="<name>": sluice_collector_sink_kafka_messages_total and
// _bytes_total (keys and values acknowledged, before compression),
// sluice_collector_sink_retries_total, sluice_collector_sink_kafka_errors_total
// (failed write attempts) and sluice_collector_sink_kafka_dropped_total
// (reason="empty_topic").
//
// # Memory
//
// The values, keys and header values of a batch are encoded into one
// buffer, and the kafka.Message and kafka.Header slices are reused, so a
// batch costs a handful of allocations rather than several per event.
// The buffers are reused by the next Write unless a Write ended with its
// context while kafka-go may still be sending them; then they are left
// to the garbage collector and fresh ones are made.
package kafka
