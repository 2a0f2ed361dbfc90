// Package parse holds the collector's parsing processors: parse_json,
// parse_logfmt, parse_regex and parse_syslog turn a string field of a log
// event (the line, "message", by default) into fields, and timestamp sets
// the event's Time from a field.
//
// Each is a Config (JSONConfig, LogfmtConfig, RegexConfig, SyslogConfig,
// TimestampConfig) with Validate, and a constructor (NewJSON, NewLogfmt,
// NewRegex, NewSyslog, NewTimestamp) returning a component.Processor.
// The four parsers share the keys of Common: field, target, on_error and
// remove_source.
//
// Invariants:
//   - Metric events pass through untouched; so does a log event that
//     fails to parse under on_error: keep. A failed event is never half
//     changed: each parser reads everything before it writes a field.
//   - Parsed fields are the event model's values: strings, float64 (JSON
//     numbers), bool, nil, []any, map[string]any, plus int64 and
//     time.Time (parse_syslog's codes and timestamp). logfmt and regex
//     values stay strings.
//   - With target "", parsed fields are merged into the top level and win
//     over fields of the same name; remove_source deletes the source
//     before the merge, so a parsed field of the same name survives.
//   - Each processor counts the events it could not parse in
//     sluice_collector_processor_errors_total{processor="<name>"} and
//     logs at most one warning per 10 s, with an example and how many
//     failures went unlogged.
//
// Process is never called concurrently on one processor, so each keeps
// scratch state (parse_json's key cache, string arena and boxes) without
// locks. Strings that parsers put in fields are substrings of the source
// field where the format allows (logfmt, regex and syslog values without
// escapes), and parse_json's strings of one document share one
// allocation; a field's value therefore keeps its whole source or
// document alive, which is the event's own data anyway.
package parse
