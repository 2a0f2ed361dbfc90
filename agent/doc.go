// Package agent runs the sluice agent: it builds the configured sources
// (components.go lists every built-in type), the shipper that sends their
// records to the broker (or spools them), and the agent's HTTP endpoint
// with /metrics and /healthz. `sluice agent` and `sluice up` call Run.
//
// Shutdown: when ctx ends, sources stop first (no new records), then the
// producer flushes what it holds within the shutdown deadline; what is
// not acknowledged by then is still in the spool or behind the sources'
// checkpoints, and is sent after the next start.
//
// Reload (reload.go; SIGHUP in `sluice agent`): the sources change while
// the agent runs; the output, the spool and the HTTP listener do not
// (a change to them is logged as needing a restart). A source whose
// config is unchanged keeps running untouched; a removed or changed one
// is stopped and waited for before its successor is built, so the two
// never share a port or a checkpoint file. A file source's checkpoint
// covers only acknowledged lines, so a stop loses nothing: its successor
// (or the next start) reads again what was in flight. A file that does
// not load changes nothing. Outcomes are counted in
// sluice_agent_config_reloads_total{result} and
// sluice_agent_config_last_reload_success_timestamp_seconds.
package agent
