// Package event is the collector's event model: what the broker's messages
// become once a pipeline reads them, what processors change and what sinks
// write.
//
// A log event is a set of fields. The line (or multiline event) the agent
// read is the field "message"; parsers add fields beside it or replace it.
// Meta holds what travelled with the message as properties (host, source,
// file, offset and the agent's own fields) plus where it was read from
// (topic, key): processors may read and set it, sinks may turn it into
// labels or headers, but it is not part of the event's body.
//
// A metric event is a batch of Prometheus time series (prompb), as the
// agent shipped them in one remote-write body, with their metadata.
//
// Events are handled by one goroutine at a time: a pipeline passes a batch
// through its processors and then to its sinks, which must not keep or
// change the events after Write returns.
package event
