// Package memlimit keeps a process's memory near a target by steering
// the Go runtime's soft memory limit, for the agent, which runs on every
// host and must stay small.
//
// At GOGC=100 the Go heap grows to twice its live data before a
// collection; an agent whose in-flight batches are 12 MB thus holds
// 24 MB of heap, plus what the scavenger has not yet returned. A fixed
// GOMEMLIMIT would cap that, but a fixed limit is a trap: once the live
// data nears it (more targets, a burst), the GC runs back to back. The
// tuner sets the limit to the target only while that leaves the heap at
// least half again its live data; above that it follows the live data
// up, so the GC works at most as hard as at GOGC=50, never thrashes,
// and the target is a preference, not a wall.
package memlimit
