package transform

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// RedactConfig is the redact processor: it replaces what matches
// patterns in string fields of log events.
type RedactConfig struct {
	// Fields are the dotted paths of the fields to redact. Default
	// ["message"]. Fields that are absent or not strings are skipped.
	Fields []string `yaml:"fields"`
	// Patterns are RE2 regular expressions
	// (https://github.com/google/re2/wiki/Syntax); each match is replaced.
	Patterns []string `yaml:"patterns"`
	// Presets are named patterns: email, ipv4, credit_card (13 to 19
	// digits, spaces or dashes between them, that pass the Luhn check)
	// and bearer_token (the token after "Bearer ", which is kept).
	Presets []string `yaml:"presets"`
	// Replacement is the literal text that replaces each match ($ is not
	// special). Default "***".
	Replacement *string `yaml:"replacement"`
}

// DefaultReplacement is what redact writes over a match by default.
const DefaultReplacement = "***"

// redactPreset is a named pattern. keep, when set, is the number of the
// group kept before the replacement; check, when set, must accept the
// match for it to be replaced.
type redactPreset struct {
	re    *regexp.Regexp
	keep  int
	check func(string) bool
}

var redactPresets = map[string]redactPreset{
	"email": {re: regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)},
	"ipv4": {re: regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}` +
		`(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b`)},
	"credit_card":  {re: regexp.MustCompile(`\b[0-9](?:[ \-]?[0-9]){12,18}\b`), check: luhn},
	"bearer_token": {re: regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*`), keep: 1},
}

// Validate checks fields, patterns and presets.
func (c *RedactConfig) Validate() error {
	var errs []error
	if len(c.Patterns) == 0 && len(c.Presets) == 0 {
		errs = append(errs, component.Errorf("patterns", "nothing to redact: give patterns or presets (%s)", presetNames()))
	}
	for i, path := range c.Fields {
		if err := checkPath(path); err != nil {
			errs = append(errs, component.Errorf(fmt.Sprintf("fields[%d]", i), "%v", err))
		}
	}
	for i, p := range c.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, component.Errorf(fmt.Sprintf("patterns[%d]", i), "%q is not an RE2 regular expression: %v", p, reError(err)))
		}
	}
	for i, name := range c.Presets {
		if _, ok := redactPresets[name]; !ok {
			errs = append(errs, component.Errorf(fmt.Sprintf("presets[%d]", i), "%q is not a preset (known: %s)", name, presetNames()))
		}
	}
	return errors.Join(errs...)
}

// reError returns regexp's message without the pattern, which the
// caller already quotes.
func reError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return err.Error()
}

func presetNames() string {
	return strings.Join(slices.Sorted(maps.Keys(redactPresets)), ", ")
}

// Redact is the redact processor.
type Redact struct {
	fields []string
	rules  []redactRule
}

// redactRule is one pattern and how it replaces a match.
type redactRule struct {
	re          *regexp.Regexp
	replacement string // with ${keep} before it when keep > 0
	keep        int
	check       func(string) bool
}

// NewRedact returns a redact processor.
func NewRedact(cfg RedactConfig, _ component.Settings) (*Redact, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	repl := DefaultReplacement
	if cfg.Replacement != nil {
		repl = *cfg.Replacement
	}
	r := &Redact{fields: cfg.Fields}
	if len(r.fields) == 0 {
		r.fields = []string{event.FieldMessage}
	}
	for _, p := range cfg.Patterns {
		r.rules = append(r.rules, redactRule{re: regexp.MustCompile(p), replacement: repl})
	}
	for _, name := range cfg.Presets {
		p := redactPresets[name]
		rule := redactRule{re: p.re, replacement: repl, keep: p.keep, check: p.check}
		if p.keep > 0 {
			rule.replacement = fmt.Sprintf("${%d}", p.keep) + strings.ReplaceAll(repl, "$", "$$")
		}
		r.rules = append(r.rules, rule)
	}
	return r, nil
}

// Process redacts the fields of log events.
func (r *Redact) Process(events []*event.Event) []*event.Event {
	for _, e := range events {
		if e.Kind != event.KindLog {
			continue
		}
		for _, path := range r.fields {
			v, ok := e.Get(path)
			if !ok {
				continue
			}
			s, ok := v.(string)
			if !ok {
				continue
			}
			if out := r.redact(s); out != s {
				e.Set(path, out)
			}
		}
	}
	return events
}

// redact returns s with every match replaced.
func (r *Redact) redact(s string) string {
	for i := range r.rules {
		rule := &r.rules[i]
		// Most text has no secret: a match test is cheaper than a
		// replacement that copies the string.
		if !rule.re.MatchString(s) {
			continue
		}
		switch {
		case rule.check != nil:
			s = rule.re.ReplaceAllStringFunc(s, func(m string) string {
				if rule.check(m) {
					return rule.replacement
				}
				return m
			})
		case rule.keep > 0:
			s = rule.re.ReplaceAllString(s, rule.replacement)
		default:
			s = rule.re.ReplaceAllLiteralString(s, rule.replacement)
		}
	}
	return s
}

// luhn reports whether the digits of s pass the Luhn check, as card
// numbers do; other characters are skipped.
func luhn(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n > 0 && sum%10 == 0
}
