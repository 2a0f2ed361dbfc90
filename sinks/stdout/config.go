package stdout

import (
	"errors"

	"github.com/sluicehq/sluice/pipelines/component"
)

// Config is the stdout sink's configuration; the zero value prints text
// to standard output.
type Config struct {
	// Format is text (default: "<RFC 3339 time> <message>") or json
	// (event.AppendJSON, one event per line).
	Format string `yaml:"format"`
	// Target is stdout (default) or stderr.
	Target string `yaml:"target"`
}

// Validate reports keys with values the sink does not know.
func (c *Config) Validate() error {
	var errs []error
	switch c.Format {
	case "", "text", "json":
	default:
		errs = append(errs, component.Errorf("format", "%q is not a format (want text or json)", c.Format))
	}
	switch c.Target {
	case "", "stdout", "stderr":
	default:
		errs = append(errs, component.Errorf("target", "%q is not a target (want stdout or stderr)", c.Target))
	}
	return errors.Join(errs...)
}
