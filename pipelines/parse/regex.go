package parse

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// RegexConfig is parse_regex: the named groups of a regular expression
// become fields.
type RegexConfig struct {
	Common `yaml:",inline"`
	// Pattern is a Go (RE2) regular expression with at least one named
	// group, (?P<name>...) or (?<name>...). Required. It is not anchored:
	// write ^ and $ to match the whole field. Each named group that took
	// part in the match becomes a string field (an optional group that
	// did not is left out); a field that does not match is an error.
	Pattern string `yaml:"pattern"`
}

// Validate checks the keys and compiles the pattern.
func (c *RegexConfig) Validate() error {
	errs := c.validate()
	if _, err := c.compile(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *RegexConfig) compile() (*regexp.Regexp, error) {
	if c.Pattern == "" {
		return nil, component.Errorf("pattern", "is required: a regular expression with named groups like (?P<status>\\d+)")
	}
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return nil, component.Errorf("pattern", "%v", err)
	}
	for _, name := range re.SubexpNames() {
		if name != "" {
			return re, nil
		}
	}
	return nil, component.Errorf("pattern", "%q has no named group like (?P<name>...): nothing would be extracted", c.Pattern)
}

// Regex is the parse_regex processor.
type Regex struct {
	base
	cfg   Common
	re    *regexp.Regexp
	names []string // of the groups, "" for unnamed ones
	named int
}

var errNoMatch = errors.New("does not match the pattern")

// NewRegex returns a parse_regex processor.
func NewRegex(cfg RegexConfig, set component.Settings) (*Regex, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	re, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	p := &Regex{cfg: cfg.withDefaults(), re: re, names: re.SubexpNames()}
	p.base = newBase(p.cfg.OnError, set)
	for _, n := range p.names {
		if n != "" {
			p.named++
		}
	}
	return p, nil
}

// Process parses the field of each log event.
func (p *Regex) Process(events []*event.Event) []*event.Event { return p.run(events, p) }

func (p *Regex) parse(e *event.Event) error {
	s, err := source(e, p.cfg.Field)
	if err != nil {
		return err
	}
	idx := p.re.FindStringSubmatchIndex(s)
	if idx == nil {
		return &syntaxError{field: p.cfg.Field, input: s, err: fmt.Errorf("%w %s", errNoMatch, p.re)}
	}
	m := make(map[string]any, p.named+p.cfg.room(e, 0))
	for i, name := range p.names {
		if name != "" && idx[2*i] >= 0 {
			m[name] = s[idx[2*i]:idx[2*i+1]]
		}
	}
	p.cfg.store(e, m)
	return nil
}
