// Package httplog is the http source: log events sent by POST, one
// record per event.
//
//	POST /  (any path)           Content-Type            event =
//	  {"a":1}\n{"b":2}\n         application/x-ndjson,   each line (a JSON object)
//	                             application/json
//	  [{"a":1},{"b":2}]          application/json        each array element (object)
//	  line one\nline two\n       text/plain              each line
//	  (no Content-Type: '{' or '[' first means JSON, else text)
//
// Record: Body is the event exactly as sent (a line without its "\r\n",
// an array element's bytes); Key is the sender's IP, so one sender's
// events stay in order; properties are Fields plus source, host (the
// agent's host) and remote_addr. Blank lines are skipped.
//
// A request is all or nothing as far as parsing goes: a malformed line
// (not a JSON object in NDJSON, an element that is not an object, bad
// JSON anywhere) fails the whole request with 400 naming the line number,
// and none of its events is emitted, so the sender can fix and resend the
// request without duplicating the lines before the bad one.
//
// Answers: 200 {"accepted":N} only after every batch of the request was
// acknowledged; 413 above MaxBodyBytes; 415 for another content type or
// a Content-Encoding; 503 when an emit or ack fails or times out, or the
// source is stopping (the sender should retry; events of batches acked
// before the failure will then arrive twice: at least once, never lost).
package httplog
