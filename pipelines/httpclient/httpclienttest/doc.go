// Package httpclienttest holds what the tests and benchmarks of the
// sinks built on httpclient share: a backend that records what it is
// sent and answers from a script, a way to start a sink under test, and
// the write benchmark. It is a package of its own so that testing and
// httptest stay out of the binaries.
package httpclienttest
