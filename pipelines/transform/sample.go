package transform

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// SampleConfig is the sample processor: it keeps one event in Rate.
type SampleConfig struct {
	// Rate keeps 1 event in Rate (required, >= 1; 1 keeps all).
	Rate int `yaml:"rate"`
	// Key is a dotted field path. When set, an event is kept or dropped
	// by a hash of that field's value, so all events with one value are
	// kept or dropped together, by every collector. Events without the
	// field are sampled at random, as without Key. Default: none.
	Key string `yaml:"key"`
	// Exclude is an expression; the events it is true for are always
	// kept. Default: none.
	Exclude string `yaml:"exclude"`
}

// Validate checks the rate, the key and the expression.
func (c *SampleConfig) Validate() error {
	var errs []error
	if c.Rate < 1 {
		errs = append(errs, component.Errorf("rate", "%d: want an integer >= 1 (keep 1 event in rate)", c.Rate))
	}
	if c.Key != "" {
		if err := checkPath(c.Key); err != nil {
			errs = append(errs, component.Errorf("key", "%v", err))
		}
	}
	if c.Exclude != "" {
		if err := checkCondition(c.Exclude); err != nil {
			errs = append(errs, component.Errorf("exclude", "%v", err))
		}
	}
	return errors.Join(errs...)
}

// Sample is the sample processor.
type Sample struct {
	rate    uint64
	key     string
	exclude *conditions // nil: none
	errs    *exprErrors
	dropped *metrics.Counter
	// random returns a number in [0, n); tests replace it.
	random func(n uint64) uint64
}

// NewSample returns a sample processor.
func NewSample(cfg SampleConfig, set component.Settings) (*Sample, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sample{
		rate:    uint64(cfg.Rate),
		key:     cfg.Key,
		errs:    newExprErrors(set),
		dropped: droppedCounter(set, reasonSampled),
		random:  rand.Uint64N,
	}
	if cfg.Exclude != "" {
		var err error
		if s.exclude, err = newConditions(cfg.Exclude); err != nil {
			return nil, fmt.Errorf("exclude: %w", err)
		}
	}
	return s, nil
}

// Process returns the events kept, in order, in events' array.
func (s *Sample) Process(events []*event.Event) []*event.Event {
	if s.rate == 1 {
		return events
	}
	var ev *evaluator
	if s.exclude != nil {
		ev = s.exclude.get()
		defer s.exclude.put(ev)
	}
	out := events[:0]
	for _, e := range events {
		if s.keep(e, ev) {
			out = append(out, e)
		}
	}
	if n := len(events) - len(out); n > 0 {
		s.dropped.Add(n)
	}
	return out
}

func (s *Sample) keep(e *event.Event, ev *evaluator) bool {
	if ev != nil {
		ev.bind(e)
		excluded, err := ev.match(0)
		if err != nil {
			s.errs.add("exclude", err)
		}
		if excluded {
			return true
		}
	}
	if s.key != "" {
		if v, ok := e.Get(s.key); ok {
			return keyHash(v)%s.rate == 0
		}
	}
	return s.random(s.rate) == 0
}

// keyHash hashes a value's text: FNV-1a, then mixed (splitmix64's
// finalizer) so that its low bits, which the modulo uses, depend on every
// byte. It is the same in every process, so collectors sharing a group
// agree on each key.
func keyHash(v any) uint64 {
	var s string
	if str, ok := v.(string); ok {
		s = str
	} else {
		s = event.Format(v)
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
