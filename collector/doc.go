// Package collector runs the collector: pipelines that consume topics of
// the broker (or Kafka) as members of a consumer group, turn messages into
// events, pass them through processors and deliver them to sinks.
//
// # At-least-once
//
// A pipeline takes one polled batch at a time through decode and its
// processors, then writes it to every sink its events go to, in
// parallel; while the sinks write batch N, batch N+1 is polled and
// processed (never written: deliveries are one at a time, in order). Offsets are
// committed only once every one of those sinks accepted its events (or
// the sink's on_failure policy sent them to the dead-letter topic or
// dropped them, counted). A crash anywhere before the commit makes the
// group hand the same messages again, so nothing is lost and at worst a
// batch is delivered twice. A sink that is down holds its pipeline's
// batch and nothing more: the backlog waits in the broker.
//
// # Ownership
//
// A Collector owns its broker client, its HTTP server and one set of
// running pipelines and sinks (a "generation"). Start starts them, Reload
// builds a new generation from a new config and, only if every component
// of it could be built, stops the old one (each pipeline finishes the
// batch it holds and commits it) and starts the new one; a config that
// does not check or build is refused and the old generation keeps
// running. Shutdown stops pipelines (finishing their batches within its
// deadline), closes sinks (flushing them) and then the client.
//
// Which processor and sink types exist is the one list in components.go.
package collector
