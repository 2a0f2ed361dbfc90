// Package server is the broker's network server: the protocol listener
// (package protocol's frames over TCP), the request handlers, the topic
// table and the admin HTTP API. It wires the store (broker/store) and the
// consumer-group coordinator (broker/groups) together; neither knows about
// the network or the other.
//
// # What it owns
//
//	DataDir/store/        the store (see package store)
//	DataDir/groups/       group subscriptions and offsets (see package groups)
//	DataDir/topics.json   the topic table: name, queue count, creation time
//
// Start opens all three, binds the protocol and HTTP listeners and runs
// the accept loop, one reader goroutine per connection, one goroutine per
// request in flight and the HTTP server. Shutdown stops and waits for every
// one of them, then closes the coordinator and the store.
//
// # Connections
//
// The first request must be Hello (CodeNoHello otherwise, and the
// connection closes). After it, a reader decodes frames and starts a
// handler goroutine per request, at most 256 per connection: a client may
// keep many requests in flight, and responses go out as they finish, in any
// order, each with its request's id and op. Responses are written under one
// lock through a buffered writer, flushed when no other response waits for
// the lock, so a burst of small responses shares a write.
//
// A frame that does not parse, a body that does not decode, or a frame
// over MaxFrame gets an error frame (CodeBadRequest, CodeFrameTooLarge) and
// the connection is closed: the stream is no longer at a frame boundary, or
// the peer does not speak the protocol. An unknown op gets CodeUnsupported
// and the connection stays. Errors in well-formed requests (unknown topic,
// bad queue) are error responses and the connection stays.
//
// # Back-pressure
//
// A reader takes the size of a frame's body from a semaphore of
// MaxInflightBytes, shared by all connections, before it reads the body,
// and the handler gives it back when done. When the disk is slow, handlers
// finish late, the semaphore empties, readers stop reading, TCP windows
// close and producers slow down: memory stays bounded.
//
// # Produce
//
// The broker checks the payload CRC the producer sent (CodeCorrupt if the
// bytes were damaged on the way), the topic (created on first produce with
// AutoCreateTopics) and the queue, and appends the batch as-is. A producer
// with an ID is idempotent: the server remembers the responses to the last
// 32 sequences of each (producer, topic, queue), answers a repeated
// sequence with the first response marked Duplicate and stores nothing,
// and lets one request per sequence append at a time, so that a retry
// racing its original on another connection waits for it instead of
// storing the batch twice. The table is rebuilt at Start from the record
// headers of the newest 256 batches of every queue, so a producer retrying
// after a broker crash (kill -9) creates no duplicate either. Producers must
// keep fewer than 32 batches of one queue in flight for this to hold.
//
// # Fetch and long polls
//
// A fetch with no data at its offset waits up to MaxWaitMs (at most 30s)
// for an append to its queue: each queue has a channel that the next
// append closes, taken before the read so no append is missed. A fetch
// whose wait ends, whose client leaves, or that is in flight at shutdown
// answers with no records. Tag filters skip batches by their tag bloom in
// the consume queue without reading them; the skipped offsets count as
// progress (Next moves). A corrupt batch is never served: the store logs
// and counts it, and the fetch answers without records and with Next past
// it, so consumers go on. An offset removed by retention gets
// CodeOffsetGone; the client restarts at the queue's minimum.
//
// # Topics
//
// The topic table is written atomically (temporary file, fsync, rename) on
// every change. At Start, a topic the store holds but the table lacks (a
// crash between the first append of an auto-created topic and the write of
// the table) is adopted with max(DefaultQueues, highest queue + 1) queues.
// Deleting a topic removes its queues from the store, its groups from the
// coordinator, then its entry; produces to it wait while it goes.
//
// # HTTP
//
// /metrics (the server's, the store's and the coordinator's sets),
// /healthz, /readyz (503 while starting or shutting down) and a JSON API:
//
//	GET    /api/v1/topics                 list
//	POST   /api/v1/topics                 {"name": "logs", "queues": 8}
//	GET    /api/v1/topics/{name}          describe, per-queue offsets
//	DELETE /api/v1/topics/{name}
//	GET    /api/v1/groups                 every group with lag
//	GET    /api/v1/groups/{group}
//	GET    /api/v1/messages/{id}          one message, decoded
//	GET    /api/v1/messages?topic=T&key=K messages by key, decoded
//
// Errors are {"error": "...", "code": "unknown_topic"} with a fitting
// status.
//
// # Shutdown
//
// Shutdown stops accepting, makes every reader stop (requests already read
// are answered), wakes long polls, waits for handlers, flushes and closes
// connections, stops HTTP, then closes the coordinator and the store. If
// its context ends first, connections are closed and waits for fsyncs
// abandoned; the store still closes cleanly.
package server
