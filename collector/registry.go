package collector

import (
	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// processorFactory makes one type of processor from its Config.
type processorFactory struct {
	newConfig func() any
	build     func(cfg any, set component.Settings) (component.Processor, error)
}

// sinkFactory makes one type of sink from its Config.
type sinkFactory struct {
	newConfig func() any
	build     func(cfg any, set component.Settings) (component.Sink, error)
}

// processor adapts a processor package's constructor to a factory.
func processor[C any, P component.Processor](newP func(C, component.Settings) (P, error)) processorFactory {
	return processorFactory{
		newConfig: func() any { return new(C) },
		build: func(cfg any, set component.Settings) (component.Processor, error) {
			return newP(*cfg.(*C), set)
		},
	}
}

// sink adapts a sink package's constructor to a factory.
func sink[C any, S component.Sink](newS func(C, component.Settings) (S, error)) sinkFactory {
	return sinkFactory{
		newConfig: func() any { return new(C) },
		build: func(cfg any, set component.Settings) (component.Sink, error) {
			return newS(*cfg.(*C), set)
		},
	}
}

// registry is a set of component types.
type registry struct {
	processors map[string]processorFactory
	sinks      map[string]sinkFactory
}

// schema is what the config loader needs of r.
func (r *registry) schema() *config.Components {
	c := &config.Components{Processors: map[string]func() any{}, Sinks: map[string]func() any{}}
	for n, f := range r.processors {
		c.Processors[n] = f.newConfig
	}
	for n, f := range r.sinks {
		c.Sinks[n] = f.newConfig
	}
	return c
}

// Components returns the processor and sink types of this build, for
// loading and checking configs (config.LoadWith).
func Components() *config.Components { return builtins().schema() }
