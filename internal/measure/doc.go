// Package measure reads what the benchmarks measure other processes by:
// a process's CPU time and memory from /proc, and the sum of a metric on
// a Prometheus /metrics page (VictoriaMetrics' and vmagent's counters).
package measure
