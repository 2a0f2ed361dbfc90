// Package source is the contract between the agent's sources (file
// tailing, Prometheus scraping, host metrics, push receivers) and the
// shipper that sends what they produce to the broker or the spool.
//
// A source produces Records and hands them to an Emitter in batches. Emit
// blocks while the shipper cannot take more (the broker is slow and the
// spool is full in `block` mode): that is how back-pressure reaches the
// sources, which then simply read later. The ack callback of a batch runs
// once the batch is durable downstream (acknowledged by the broker, or
// written to the spool); a source that keeps a checkpoint, like the file
// tailer, advances it only then.
//
// Log records carry the raw line (or multiline event) as Body and the
// properties `host`, `source`, `file` and the source's own fields.
// Metric records carry a Prometheus remote-write WriteRequest (prompb,
// protobuf-encoded, not compressed) as Body, with the property
// `content-type: application/x-protobuf;proto=prometheus.WriteRequest`,
// and are keyed by their target (job + instance) so that one target's
// samples stay in order in one queue.
package source
