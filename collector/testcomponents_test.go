package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// The components of these tests: a sink that remembers what it accepted
// and can be told to fail, and a processor that upper-cases a field.

type memConfig struct {
	// FailFirst makes the first n Writes fail.
	FailFirst int `yaml:"fail_first"`
	// FailAlways makes every Write fail.
	FailAlways bool `yaml:"fail_always"`
	// BuildError makes New fail.
	BuildError string `yaml:"build_error"`
}

func (c *memConfig) Validate() error {
	if c.FailFirst < 0 {
		return component.Errorf("fail_first", "must not be negative, got %d", c.FailFirst)
	}
	return nil
}

// memSinks finds the sinks a test's collector built, by name.
type memSinks struct {
	mu    sync.Mutex
	sinks map[string]*memSink
}

func (m *memSinks) get(name string) *memSink {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sinks[name]
}

type memSink struct {
	cfg    memConfig
	mu     sync.Mutex
	writes int
	events []*event.Event
	closed bool
}

func (s *memSink) Write(ctx context.Context, events []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.cfg.FailAlways || s.writes <= s.cfg.FailFirst {
		return fmt.Errorf("mem sink: failing write %d as configured", s.writes)
	}
	for _, e := range events { // copies: the collector reuses the batch's memory
		s.events = append(s.events, e.Clone())
	}
	return nil
}

func (s *memSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *memSink) snapshot() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

type upperConfig struct {
	Field string `yaml:"field"`
	// RouteIf routes events whose message contains it to RouteTo.
	RouteIf string   `yaml:"route_if"`
	RouteTo []string `yaml:"route_to"`
}

func (c *upperConfig) SinkRefs() map[string][]string {
	return map[string][]string{"route_to": c.RouteTo}
}

type upper struct{ cfg upperConfig }

func (u *upper) Process(events []*event.Event) []*event.Event {
	for _, e := range events {
		if s, ok := e.Fields.Value(u.cfg.Field).(string); ok {
			e.Fields.Set(u.cfg.Field, strings.ToUpper(s))
		}
		if u.cfg.RouteIf != "" && strings.Contains(strings.ToLower(e.Message()), u.cfg.RouteIf) {
			e.Routes = u.cfg.RouteTo
		}
	}
	return events
}

// testRegistry returns component types for tests, and where to find the
// mem sinks the collector builds.
func testRegistry() (*registry, *memSinks) {
	ms := &memSinks{sinks: map[string]*memSink{}}
	newMem := func(cfg memConfig, set component.Settings) (*memSink, error) {
		if cfg.BuildError != "" {
			return nil, errors.New(cfg.BuildError)
		}
		s := &memSink{cfg: cfg}
		ms.mu.Lock()
		ms.sinks[set.Name] = s
		ms.mu.Unlock()
		return s, nil
	}
	newUpper := func(cfg upperConfig, _ component.Settings) (*upper, error) { return &upper{cfg}, nil }
	return &registry{
		processors: map[string]processorFactory{"upper": processor(newUpper)},
		sinks:      map[string]sinkFactory{"mem": sink(newMem)},
	}, ms
}
