package parse

import (
	"errors"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// JSONConfig is parse_json: the field holds a JSON document.
//
// With Target "" the document must be an object, whose keys are merged
// into the event's fields; with a Target any JSON value is put there.
// Numbers become float64, as with encoding/json.
type JSONConfig struct {
	Common `yaml:",inline"`
}

// Validate checks the keys.
func (c *JSONConfig) Validate() error { return errors.Join(c.validate()...) }

// JSON is the parse_json processor.
type JSON struct {
	base
	cfg Common
	dec jsonDecoder
}

// NewJSON returns a parse_json processor.
func NewJSON(cfg JSONConfig, set component.Settings) (*JSON, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	return &JSON{base: newBase(c.OnError, set), cfg: c}, nil
}

// Process parses the field of each log event.
func (p *JSON) Process(events []*event.Event) []*event.Event { return p.run(events, p) }

func (p *JSON) parse(e *event.Event) error {
	s, err := source(e, p.cfg.Field)
	if err != nil {
		return err
	}
	if p.cfg.Target == "" {
		// Straight into the event's fields, which decodeInto leaves as
		// they were when s does not parse. The source goes first, so
		// that a parsed field of its name replaces it.
		err := p.dec.decodeInto(s, &e.Fields, func() {
			if p.cfg.RemoveSource {
				e.Delete(p.cfg.Field)
			}
		})
		if err != nil {
			return &syntaxError{field: p.cfg.Field, input: s, err: err}
		}
		return nil
	}
	v, err := p.dec.decode(s, p.cfg.Target == "", p.cfg.room(e, 0))
	if err != nil {
		return &syntaxError{field: p.cfg.Field, input: s, err: err}
	}
	if m, ok := v.(map[string]any); ok {
		p.cfg.store(e, m)
		return nil
	}
	// A scalar or an array, which only a Target can hold.
	if p.cfg.RemoveSource {
		e.Delete(p.cfg.Field)
	}
	e.Set(p.cfg.Target, v)
	return nil
}
