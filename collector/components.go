package collector

// builtins is the one list of the processor and sink types this build of
// sluice has. A type is added here and nowhere else.
func builtins() *registry {
	return &registry{
		processors: map[string]processorFactory{},
		sinks:      map[string]sinkFactory{},
	}
}
