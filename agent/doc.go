// Package agent runs the sluice agent: it builds the configured sources
// (components.go lists every built-in type), the shipper that sends their
// records to the broker (or spools them), and the agent's HTTP endpoint
// with /metrics and /healthz. `sluice agent` and `sluice up` call Run.
//
// Shutdown: when ctx ends, sources stop first (no new records), then the
// producer flushes what it holds within the shutdown deadline; what is
// not acknowledged by then is still in the spool or behind the sources'
// checkpoints, and is sent after the next start.
package agent
