// Package testbin finds the third-party programs that tests run for real
// (prometheus, victoria-metrics, nats-server): a test skips on a developer
// box that lacks one, and fails when SLUICE_E2E_REQUIRED=1, as in CI.
package testbin
