// Package e2e holds end-to-end tests and benchmarks: they build the sluice
// binary, run it as real processes (killed with SIGKILL where a test says
// so) next to real third-party servers, and check what users would see.
//
// A test that needs a third-party binary skips when it is missing, unless
// SLUICE_E2E_REQUIRED=1 (set by .ci/run), where it fails instead.
package e2e
