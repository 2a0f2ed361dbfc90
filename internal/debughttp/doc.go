// Package debughttp adds Go's profiling endpoints to a component's HTTP
// mux, as vmagent and the OpenTelemetry Collector offer them: an
// operator chasing memory or CPU on a live agent needs
// `go tool pprof http://host:port/debug/pprof/heap`, not a rebuild.
//
// They are served on the same listener as /metrics, which is meant for
// an operator's network, not the internet.
package debughttp
