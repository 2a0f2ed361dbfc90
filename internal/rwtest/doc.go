// Package rwtest is for tests that send Prometheus remote write 1.0
// requests: to sluice's receiver, to a real Prometheus, to vmagent.
package rwtest
