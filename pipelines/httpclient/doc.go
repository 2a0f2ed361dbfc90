// Package httpclient builds the HTTP client of sinks that send over HTTP
// (remote write, Loki, http) from config.HTTPClient: TLS, timeouts, and
// the headers and credentials added to every request. It also holds what
// those sinks share in deciding whether a response is worth a retry, and,
// for the sinks that send events in bounded bodies (http, loki), their
// common keys (Batching) and sending (BatchSender).
package httpclient
