// Package configs holds the documented example configurations of sluice.
// Every *.yaml file here is loaded and checked by a test, so an example
// never drifts from what the binary accepts. quickstart.yaml is also
// embedded: it is what `sluice up` runs when given no config at all.
package configs

import _ "embed"

// Quickstart is quickstart.yaml, the embedded defaults of `sluice up`.
//
//go:embed quickstart.yaml
var Quickstart []byte
