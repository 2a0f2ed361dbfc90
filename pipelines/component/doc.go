// Package component is the contract between the collector and the
// processors and sinks it builds from configuration, in the manner of the
// OpenTelemetry Collector: every component is a Config struct (with yaml
// tags and a Validate method), a constructor taking that Config and
// Settings, and the component itself.
//
// Each processor and sink package exports
//
//	type Config struct{ ... }            // its keys; zero values mean the documented defaults
//	func (c *Config) Validate() error    // FieldErrors name the key at fault
//	func New(cfg Config, set component.Settings) (component.Processor or component.Sink, error)
//
// and the collector's components.go lists them all. The config loader
// checks each component's YAML against its Config type, so unknown keys
// and wrong types are refused with FILE:LINE:COL before Validate runs.
package component
