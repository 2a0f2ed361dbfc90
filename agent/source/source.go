package source

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
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
	Key  string
	Body []byte
	// Properties may be one map shared by many records (a file's host,
	// file and source): nobody modifies it once it is emitted.
	Properties map[string]string
	// Shared are properties many records share, encoded once
	// (protocol.NewProps); Properties and Extra win over them.
	Shared *protocol.Props
	// Extra is one more property of this record alone (a tailed line's
	// offset), so that the record needs no map of its own. It travels
	// as one of the properties, in place of one of its name.
	Extra Property
	// Time is when the event happened or was read.
	Time time.Time
}

// Property is a property name and value.
type Property = protocol.Property

// Prop returns the property name of r, Shared and Extra included.
func (r *Record) Prop(name string) string {
	if name == r.Extra.Name && name != "" {
		return r.Extra.Value
	}
	if v, ok := r.Properties[name]; ok || r.Shared == nil {
		return v
	}
	return r.Shared.Get(name)
}

// AllProps returns all of r's properties in one map, as a reader of the
// message sees them; it allocates only when r has Shared or Extra.
func (r *Record) AllProps() map[string]string {
	return protocol.MergeProps(r.Shared, r.Properties, r.Extra)
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
