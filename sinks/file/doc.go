// Package file is the collector's `type: file` sink: it appends events to
// local files named by a template, rotates them by size and age,
// compresses and prunes the rotated ones.
//
// # Paths
//
// path is expanded for every event: %Y %m %d %H %M %S %j (and %% for a
// literal %) from the event's time in timezone (UTC by default), and
// {{ field.path }} / {{ meta.key }} from the event:
//
//	path: "./out/{{ meta.host }}/app-%Y-%m-%d.log"
//
// A value from an event stays inside one path element: "/", "\" and
// control characters become "_", a missing or empty value is "_", a value
// of only dots has its dots replaced, and at most 128 bytes of it are
// used. So the directories a path can reach are the template's own.
// Missing directories are created (the file's mode plus x where r is
// given).
//
// A template without {{ }} is expanded once per span of its finest
// conversion (a day for %Y-%m-%d) and cached, so the usual case costs a
// time comparison per event.
//
// # Encodings
//
// json (default): event.AppendJSON (written by an event.JSONEncoder) and
// "\n", for log and metric events.
// text: a log event's message field and "\n" (a message with newlines
// stays multi-line; a missing one is an empty line); a metric event as
// one line per sample, `name{label="value",...} value timestamp_ms`, in
// the Prometheus exposition escaping (a native histogram as name_count
// and name_sum lines).
//
// # Write and durability
//
// Write encodes the batch into one buffer per path (events keep their
// order within a path), then appends each buffer with one write(2), and
// with fsync: true (the default) fsyncs every file written, and every
// directory that got a new entry, before returning nil: the collector
// commits offsets only then. Files are opened O_APPEND and never
// truncated, except that a write that fails half-way is truncated back
// so a file holds whole lines only. A full disk, a quota, EIO and
// too-many-open-files are retried with the `retry` back-off, going on
// from what was written (no duplicates); other errors, and an fsync that
// fails (after which what the file holds is unknown), return the error
// and leave the batch to the collector's on_failure policy (a retried
// batch may then duplicate lines: at-least-once).
//
// # Rotation
//
// With rotate.max_size, a write that would take the file past it first
// rotates the file (splitting a batch at event boundaries; an event
// bigger than max_size gets a file of its own). With rotate.max_age, a
// file is rotated once it has been open that long, at the next write or
// by the janitor. Rotation renames the file to
//
//	<path>.<UTC time of rotation as 20060102T150405>[-N]
//
// e.g. app.log.20261128T101500, with -1, -2... when a file of that
// second exists. Rotated files are never renamed again (no shifting), so
// background compression cannot race with the next rotation, and names
// sort by age. keep > 0 removes the oldest rotated files of a path
// beyond keep (counting compressed ones). compress: gzip or zstd turns
// each rotated file into <name>.gz or <name>.zst on one goroutine owned
// by the sink: written to <name>.gz.tmp, fsynced, renamed, then the
// original removed; a crash or a Close that cannot wait leaves the plain
// file, compressed at the path's next rotation.
//
// # Open files
//
// At most max_open_files (default 256) are open; one more closes the
// least recently written. The janitor goroutine closes files not written
// for idle_close (default 1m) and rotates files past max_age. Close
// closes every file and stops both goroutines; the compressor finishes
// its queue unless Close's ctx ends first.
//
// # Metrics
//
// Beside the collector's own per-sink series: sluice_collector_sink_retries_total,
// and sluice_collector_sink_file_{bytes,rotations,opens,compressed,
// compress_errors,rotated_removed}_total, sluice_collector_sink_file_closes_total{reason="idle"|"max_open_files"}
// and the gauge sluice_collector_sink_file_open_files, all labelled sink.
package file
