// Package client is the Go client of the sluice broker: admin calls, a
// batching idempotent Producer, and group Consumers (pull with Poll, or the
// Consume handler loop). The agent, the collector, `sluice admin` and
// `sluice bench` reach the broker only through it. It imports
// broker/protocol and nothing else of sluice.
//
// # Connection
//
// A Client holds one TCP connection, multiplexed: every request has an id,
// one reader goroutine hands each response to the request waiting for it,
// and writers take turns on a buffered writer, the last of a burst
// flushing it. The connection is made by the first request (New never
// waits for the broker), begins with Hello, and is replaced when it breaks:
// every request in flight then fails with an error wrapping ErrUnavailable,
// and the next request dials again, after a back-off if dialing failed.
// Each request is bounded by its context and by Config.RequestTimeout (plus
// the wait of a long poll).
//
// # Producer
//
// Messages are batched per (topic, queue) up to ProducerConfig.BatchBytes
// or ProducerConfig.Linger, lz4-compressed once per batch, and stored by
// the broker as sent. A message with a key goes to queue KeyHash(topic,
// key) mod queues, so one key stays in one queue (in order); messages
// without a key fill one queue's batch, then the next queue's. The queue
// count comes from DescribeTopic on first use of a topic (which the
// producer creates, with the broker's default queue count, if it does not
// exist).
//
// Invariants: at most one batch per (topic, queue) is in flight, so
// batches of a queue are stored in order; each stream has a random producer
// id and numbers its batches from 1, and a retried batch keeps its number,
// so the broker stores it once; a stream whose batch failed for good
// continues under a new producer id. Unacknowledged bytes are bounded by
// ProducerConfig.MaxBufferedBytes: past it, sending blocks.
//
// # Consumer
//
// A Consumer joins a group on a topic and owns a membership goroutine
// (join, heartbeat every Assignment.HeartbeatMs, follow re-assignments,
// join again under the same member id when the broker forgot it, as after
// a restart) and one fetch goroutine per assigned queue, which long-polls
// and waits for Poll to take each result, so at most one result per queue
// is held in memory. Messages before the offset asked for are dropped
// (a batch may start earlier), and tags are filtered exactly here, since
// the broker filters whole batches by a Bloom filter only.
//
// In clustering mode offsets are committed to the broker as the member;
// the broker refuses a commit for queues the member no longer owns
// (FencedError, which callers may ignore: the queue's new owner resumes
// from the last commit). In broadcasting mode every member reads every
// queue and keeps its own progress (ConsumerConfig.OffsetsFile).
//
// Every goroutine belongs to the Client, Producer or Consumer that started
// it and is stopped and waited for by its Close; closing a Client closes
// its producers and consumers.
package client
