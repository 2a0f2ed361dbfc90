// Package transform holds the processors that change, drop and direct
// events without parsing them: set, rename, remove, redact, filter, route,
// sample and throttle. Each is a XxxConfig (yaml keys, defaults on the
// fields, Validate) and a NewXxx constructor returning a
// component.Processor.
//
// # Events
//
// set, rename, remove and redact change log events only: a metric event
// (event.KindMetric) passes through them untouched. filter, route, sample
// and throttle see every event; their expressions tell the kinds apart
// with `kind == "metric"`.
//
// # Expressions
//
// Conditions are github.com/expr-lang/expr expressions compiled once, in
// New (Validate compiles them too, so a syntax error is reported with the
// config key at fault). An expression sees the event as its environment:
//
//	message    the message field, a string ("" when absent)
//	meta       the event's meta, a map[string]string (meta.host)
//	kind       "log" or "metric"
//	timestamp  the event's time, a time.Time
//	fields     all fields, a map (fields["user-agent"] for odd names)
//	<name>     any other top-level field by its name (level, http.status);
//	           nil when the event has no such field
//
// A field named like one of the first five is reached through fields.
//
// A path of fields (http.status, http["status"]) and a meta key
// (meta.host) are looked up as one name: an absent level of the path is
// nil, as an absent field is, rather than an error, and no reflection
// runs. Optional chains (http?.status) and let variables are left to expr.
//
// The environment is a map reused across events, and only the names the
// expression mentions are put in it (all fields when it uses $env). A
// condition that is name == "text" or name != "text" does not run expr
// at all. A simple condition thus costs no allocation and a map store or
// two per event, not a copy of the event (BenchmarkFilter).
// Mentioning timestamp allocates (a time.Time in an interface).
//
// An expression that fails at run time (comparing a string with a
// number, or nil with a number: write (status ?? 0) >= 500 when status
// may be absent; returning something other than a bool or nil) counts in
// sluice_collector_processor_errors_total{processor} and the event is
// treated as not matching: filter's condition is false (dropped), its
// drop_if is false (kept), no route takes it, sample's exclude does not
// protect it.
//
// # Templates
//
// set's values and throttle's key are templates: text with {{ path }}
// (a field at a dotted path) and {{ meta.key }} (a meta value) expanded
// per event, parsed once in New. A missing field or meta key expands to
// "". In set.fields, a value that is exactly one {{ path }} copies the
// field with its type (a number stays a number).
//
// # Concurrency
//
// Process may be called from several goroutines at once: per-call state
// (expression environments, scratch buffers) comes from sync.Pools or is
// per call, and throttle's buckets are under a mutex. throttle reads its
// clock once per batch.
//
// # Metrics
//
// Besides what the collector counts for every processor:
//
//	sluice_collector_processor_errors_total{processor}          expression run-time errors
//	sluice_collector_processor_dropped_total{processor,reason}  reason: filtered, sampled, throttled, throttle_overflow
package transform
