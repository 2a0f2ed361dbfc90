package parse

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// Common are the keys parse_json, parse_logfmt, parse_regex and
// parse_syslog share; each Config inlines them.
type Common struct {
	// Field is the dotted path of the string to parse. Default "message".
	Field string `yaml:"field"`
	// Target is the dotted path the parsed fields go under. Default "":
	// they are merged into the event's top-level fields, replacing fields
	// of the same name.
	Target string `yaml:"target"`
	// OnError is what happens to an event that does not parse (the field
	// is missing, is not a string, or is not in the format): keep
	// (default: the event passes on unchanged) or drop. Either way it is
	// counted and logged.
	OnError string `yaml:"on_error"`
	// RemoveSource deletes Field after a successful parse, unless the
	// parse itself replaced it. Default false.
	RemoveSource bool `yaml:"remove_source"`
}

// Values of on_error.
const (
	OnErrorKeep = "keep"
	OnErrorDrop = "drop"
)

// DefaultField is the field parsed unless the config names another.
const DefaultField = event.FieldMessage

func (c Common) withDefaults() Common {
	if c.Field == "" {
		c.Field = DefaultField
	}
	if c.OnError == "" {
		c.OnError = OnErrorKeep
	}
	return c
}

func (c *Common) validate() []error {
	var errs []error
	if err := checkPath("field", c.Field); err != nil {
		errs = append(errs, err)
	}
	if err := checkPath("target", c.Target); err != nil {
		errs = append(errs, err)
	}
	if err := checkOnError(c.OnError); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func checkOnError(v string) error {
	switch v {
	case "", OnErrorKeep, OnErrorDrop:
		return nil
	}
	return component.Errorf("on_error", "%q is not keep or drop", v)
}

// checkPath refuses a dotted path with an empty part ("a..b", ".a"),
// which Event.Set would turn into a field named "".
func checkPath(key, path string) error {
	if path == "" {
		return nil
	}
	for part := range strings.SplitSeq(path, ".") {
		if part == "" {
			return component.Errorf(key, "%q has an empty part: want a field name or a dotted path like http.request", path)
		}
	}
	return nil
}

// warnEvery bounds how often a processor logs events it could not parse.
const warnEvery = 10 * time.Second

// exampleLen bounds the example of a failed input quoted in the log.
const exampleLen = 256

// base is what every parse processor has: its failure policy, its error
// counter and its rate-limited warning.
type base struct {
	name   string
	drop   bool
	errors *metrics.Counter
	logger *slog.Logger

	lastWarn   time.Time
	suppressed int
}

func newBase(onError string, set component.Settings) base {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Metrics == nil {
		set.Metrics = metrics.NewSet()
	}
	return base{
		name:   set.Name,
		drop:   onError == OnErrorDrop,
		errors: set.Metrics.GetOrCreateCounter(`sluice_collector_processor_errors_total{processor="` + component.Label(set.Name) + `"}`),
		logger: set.Logger,
	}
}

// parser is one processor's work on one log event; an error leaves the
// event unchanged.
type parser interface {
	parse(e *event.Event) error
}

// run passes metric events on untouched and parses log events, keeping
// or dropping those that fail.
func (b *base) run(events []*event.Event, p parser) []*event.Event {
	out := events[:0]
	for _, e := range events {
		if e.Kind == event.KindLog {
			if err := p.parse(e); err != nil {
				b.failed(err)
				if b.drop {
					continue
				}
			}
		}
		out = append(out, e)
	}
	clear(events[len(out):])
	return out
}

// failed counts a failure and logs it, at most once per warnEvery with
// how many went unlogged since.
func (b *base) failed(err error) {
	b.errors.Inc()
	now := time.Now()
	if !b.lastWarn.IsZero() && now.Sub(b.lastWarn) < warnEvery {
		b.suppressed++
		return
	}
	action := "kept unchanged"
	if b.drop {
		action = "dropped"
	}
	b.logger.Warn("event did not parse; "+action, "processor", b.name, "error", err,
		"not_logged_since_last_warning", b.suppressed)
	b.lastWarn, b.suppressed = now, 0
}

// errMissing and errNotString are the failures common to all parsers.
var (
	errMissing   = errors.New("field is missing")
	errNotString = errors.New("field is not a string")
)

// source returns the string at path.
func source(e *event.Event, path string) (string, error) {
	v, ok := e.Get(path)
	if !ok {
		return "", fmt.Errorf("%s: %w", path, errMissing)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: %w (it is %s)", path, errNotString, typeName(v))
	}
	return s, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64, int64, int:
		return "a number"
	case bool:
		return "a bool"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case time.Time:
		return "a time"
	}
	return fmt.Sprintf("a %T", v)
}

// syntaxError is a parse failure with an example of the input.
type syntaxError struct {
	field string
	input string
	err   error
}

func (e *syntaxError) Error() string {
	in := e.input
	if len(in) > exampleLen {
		in = in[:exampleLen] + "..."
	}
	return fmt.Sprintf("%s %q: %v", e.field, in, e.err)
}

func (e *syntaxError) Unwrap() error { return e.err }

// store puts what a parser produced into e: under Target, or merged into
// the top-level fields when Target is "", in the order of their names so
// that events parsed alike hold their fields alike. The source is
// deleted first when RemoveSource is set, so that a parsed field of the
// same name replaces it instead of being deleted.
func (c *Common) store(e *event.Event, fields map[string]any) {
	if c.RemoveSource {
		e.Delete(c.Field)
	}
	if c.Target != "" {
		e.Set(c.Target, fields)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		e.Fields.Set(k, fields[k])
	}
}

// room is the size hint of a parsed map: n parsed fields, plus the
// event's own when they will be merged into it.
func (c *Common) room(e *event.Event, n int) int {
	if c.Target == "" {
		return n + e.Fields.Len()
	}
	return n
}
