// Package config loads sluice's one YAML configuration file, whose
// top-level sections are broker:, agent: and collector:, as DESIGN.md
// fixes them.
//
// Loading is strict: an unknown key, a value of the wrong type, a bad
// duration or size and a value that fails its section's validation are
// all errors, each reported as FILE:LINE:COL: message so an editor can
// jump to it. Every error in a file is reported at once, not only the
// first.
//
// Scalars may use ${VAR} and ${VAR:-default}; an unset variable without
// a default is an error at the place it is used. Durations are Go
// durations plus days ("15s", "72h", "7d"); sizes are bytes with an
// optional unit ("512", "64KiB", "64MiB", "50GiB", "1GB").
//
// The package owns only the schema and its checking: components take the
// sections and turn them into their own Config structs, which validate
// again what only they can know.
package config
