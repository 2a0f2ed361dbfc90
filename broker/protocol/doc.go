// Package protocol is the wire protocol between the broker and its clients:
// frames, request and response bodies, and the encoding of messages inside
// a producer batch. It is shared by server and client and imports neither.
//
// # Frames
//
// A connection carries length-prefixed frames in both directions. Many
// requests may be in flight on one connection; responses carry the request
// id of their request and may come back in any order.
//
//		 0         4     5     6          8                     16
//		 +---------+-----+-----+----------+---------------------+----------+
//		 | size    | ver | op  | flags    | request id          | body ... |
//		 +---------+-----+-----+----------+---------------------+----------+
//
//	  - size (uint32, little-endian like every integer here) counts the bytes
//	    after it: 12 + len(body). A reader checks it against its maximum
//	    frame size before allocating anything.
//	  - ver is the frame version, 1.
//	  - op is the operation (Op); a response has the op of its request.
//	  - flags: bit 0 marks a response, bit 1 an error response, whose body is
//	    an ErrorBody (code and human message).
//
// The first request on a connection must be Hello: the client says which
// protocol version it speaks and who it is, with room for credentials, so
// that TLS, authentication and ACLs can come later without breaking clients.
//
// # Bodies
//
// As in RocketMQ's remoting protocol, the data path is binary and the
// control path is structured text: Produce and Fetch (and their responses)
// and the error body have hand-written binary bodies, since they carry the
// payloads and run per batch; every other operation has a JSON body, which
// is cheap at their rates and easy to extend. Unknown JSON fields are
// ignored so older peers keep working.
//
// In the binary bodies drawn on each type, u8..u64 and i64 are fixed-size
// little-endian integers, uvarint and varint are encoding/binary's in their
// shortest form (a longer encoding of the same value is malformed, so that
// every binary body has exactly one encoding), and str and bytes are a
// uvarint length followed by that many bytes. Every length and count is
// checked against the bytes left in the body before anything is sliced or
// allocated by it, and a body with bytes left over is malformed.
//
// # Messages in a batch
//
// A producer batch is encoded once by the producer (BatchBuilder) and
// stored and served by the broker as-is. Its payload is the messages, each
// one
//
//	uvarint len | uvarint flags | varint born-ms delta | key | tags |
//	uvarint nprops | (key, value)... | body
//
// where key, tags, property keys and values and body are each a uvarint
// length followed by bytes, and len counts everything after it. The born
// time is relative to the batch's first born time (the first message's).
// No message flag is defined yet; a reader refuses a message with flags it
// does not know rather than misread it. With compression (AttrLZ4) the
// payload is uvarint(raw length) followed by one lz4 block (not an lz4
// frame) of the raw messages; the raw length is bounded by MaxBatchRaw, and
// by 255 times the compressed size (lz4's largest ratio), before anything
// is allocated.
package protocol
