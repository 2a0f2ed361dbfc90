// Package receive holds what the agent's push receivers share: a
// listener that bounds concurrent connections and the lifecycle of an
// HTTP server owned by a source's Run.
//
// The receivers themselves live in subpackages:
//
//	remotewrite  POST /api/v1/write, Prometheus remote write 1.0
//	httplog      POST of NDJSON, a JSON array or text lines
//	syslog       RFC 5424 / RFC 3164 over UDP and TCP
//
// Every receiver binds its listener in its constructor, so Addr is
// known (also with port 0) before Run, and Run owns it from then on:
// Run serves until ctx ends, then closes the listener and waits for every
// connection goroutine before returning. Close releases the listener of
// a receiver whose Run was never called.
//
// A push receiver answers its client only once the ack callback of the
// batch reported nil, so a client that retries on error never loses an
// event it was told was accepted.
package receive
