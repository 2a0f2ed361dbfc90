// Package stdout is the collector's `type: stdout` sink: it prints events
// to the process's standard output (or standard error), for trying out
// pipelines and for debugging them.
//
// format: text (the default) prints a log event as
//
//	<time, RFC 3339, UTC> <message field>
//
// and a metric event as one line per sample,
//
//	<sample time, RFC 3339, UTC> name{label="value",...} <value>
//
// format: json prints each event as event.AppendJSON encodes it (the
// same JSON as the file sink), one per line.
//
// A batch is formatted into one buffer and written with one Write call,
// under a lock shared by every sink printing to the same stream, so the
// lines of two pipelines never interleave mid-line. Write returns once
// the bytes were handed to the stream (stdout is not fsynced).
//
// Tests (and embedders) pass their own io.Writer to NewWriter instead of
// New.
package stdout
