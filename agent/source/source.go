package source

import (
	"context"
	"time"
)

// ContentTypeWriteRequest is the content-type property of metric records.
const ContentTypeWriteRequest = "application/x-protobuf;proto=prometheus.WriteRequest"

// Property names set on records.
const (
	PropContentType = "content-type"
	PropHost        = "host"
	PropSource      = "source"
	PropFile        = "file"
	PropOffset      = "offset"
)

// Record is one log event or one batch of metrics, as it will be sent to
// the broker.
type Record struct {
	Topic string
	// Key orders records: the same key goes to the same queue, in order.
	Key        string
	Body       []byte
	Properties map[string]string
	// Time is when the event happened or was read.
	Time time.Time
}

// Emitter takes batches of records from a source.
type Emitter interface {
	// Emit hands recs over, blocking while downstream is full; it returns
	// ctx's error if ctx ends first, and then recs were not taken. The
	// emitter owns recs once Emit returns nil. ack, if not nil, is called
	// exactly once: with nil once every record is durable downstream, or
	// with the error that made the batch fail for good. After ack the
	// emitter no longer touches the records' bodies: the source may
	// reuse their memory.
	Emit(ctx context.Context, recs []Record, ack func(error)) error
}

// Source is one configured input of the agent.
type Source interface {
	// Run produces records into e until ctx ends, then returns nil after
	// stopping every goroutine it started. It returns an error only for
	// a failure it cannot recover from.
	Run(ctx context.Context, e Emitter) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, recs []Record, ack func(error)) error

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, recs []Record, ack func(error)) error {
	return f(ctx, recs, ack)
}
