// Package ship is the agent's shipper: it takes the records of every
// source (it is their source.Emitter), sends them to the broker through a
// broker/client Producer (or to Kafka through any Sender), and falls back
// to the disk spool when the broker is away or slower than the sources.
//
// # Modes
//
// Direct: records go to the Sender at once; a batch's ack runs when the
// broker acknowledged every record of it, so the file tailer's checkpoint
// never runs ahead of the broker.
//
// Spooling: entered when the bytes sent but not acknowledged pass
// MaxInflight (the broker is down or slow) or when a batch fails for
// good. New batches are appended to the spool, encoded (codec.go), and
// acked to their source once the spool has them durably; a batch larger
// than the spool takes in one record (an eighth of a small spool's
// max_size) is appended in pieces. A forwarder
// goroutine reads the spool in order and feeds the Sender; a spool entry
// is acknowledged to the spool when every one of its records, and every
// entry before it, was acknowledged by the broker. When the forwarder
// has read every spooled entry and no append is under way, the shipper
// goes back to direct. Entries that drop_oldest dropped unread count as
// read: the spool's own count of entries not acknowledged bounds the
// shipper's count of unread ones.
//
// # Failed sends
//
// The agent's Senders retry until delivered, so a record comes back
// undelivered mostly when they close. If a spooled record is not
// delivered while the shipper runs on, the forwarder waits for the
// answers of every entry it sent, rewinds the spool to its oldest
// unacknowledged entry and sends from there again after a back-off
// (counted in sluice_agent_ship_spool_rewinds_total). Entries delivered
// after the failed one are sent twice; new batches are spooled behind.
//
// # Order
//
// Records reach the Sender in the order sources emitted them, whether
// directly or through the spool: direct sends and the forwarder's sends
// happen under one lock, and the shipper leaves spooling mode only when
// nothing is left in or on its way into the spool. The Producer keeps the
// order per queue (one batch in flight per queue), so one file's lines or
// one target's samples, keyed alike, arrive in order.
//
// # What can be lost
//
// Nothing acknowledged to a source: it is in the broker or in the spool.
// With `when_full: drop_oldest` the spool drops its oldest entries when
// full, counted and logged by the spool. A record the broker refuses for
// good (for example a topic that may not be created) is dropped, logged
// and counted in sluice_agent_ship_dropped_records_total.
package ship
