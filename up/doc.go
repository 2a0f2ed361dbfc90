// Package up is `sluice up`: the broker, the agent and the collector in
// one process, from one config file with all three sections, or, with no
// file at all, from configs/quickstart.yaml plus a generator of demo log
// lines, so that a newcomer sees the whole pipeline work at once.
//
// Up starts the broker first and stops it last: the agent flushes into
// it and the collector commits to it while they stop.
package up
