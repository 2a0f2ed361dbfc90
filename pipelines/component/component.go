package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/event"
)

// Settings is what every component gets from the collector.
type Settings struct {
	// Name is the component's name in the config: the sink's key, or
	// "<pipeline>/<index>-<type>" for a processor. Metrics carry it as a label.
	Name string
	// Logger is never nil.
	Logger *slog.Logger
	// Metrics is the collector's set; components add their own series to
	// it, named sluice_collector_..., labelled with Name. Never nil.
	Metrics *metrics.Set
}

// Processor changes a batch of events.
type Processor interface {
	// Process changes events in place and returns the ones to pass on,
	// in order; it may reuse events' backing array and may append new
	// events (log_to_metric does). Processors do not fail a batch: an
	// event they cannot handle is passed on as it is, or dropped, as the
	// processor's config says, and counted. What a processor keeps past
	// the call (a throttle's keys) it copies: the collector reuses the
	// memory of a batch's events, strings included, once it is delivered.
	Process(events []*event.Event) []*event.Event
}

// Sink writes events to a backend.
type Sink interface {
	// Write delivers events and returns nil once the backend accepted
	// all of them durably (a file fsynced, a 2xx from a remote write
	// endpoint), or the events were dropped as the sink's config says and
	// counted. It retries transient failures itself, with back-off, for
	// as long as its config allows; an error it returns leaves the events
	// to the collector's on_failure policy (retry the batch, send it to a
	// dead-letter topic, or drop it). ctx ending makes Write return
	// ctx's error soon. Write is not called concurrently. Write keeps
	// nothing of the events once it returned nil (event.Clone copies an
	// event whole): the collector reuses their memory, strings included.
	Write(ctx context.Context, events []*event.Event) error
	// Close flushes and releases everything; Write is not called after.
	Close(ctx context.Context) error
}

// FieldError is a Validate problem at a key of the component's config,
// a dotted path relative to it ("url", "tls.ca_file", "metrics[0].name").
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Errorf returns a FieldError at path.
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors flattens what a Validate returned (errors.Join of
// FieldErrors and other errors) into FieldErrors; an error that names no
// field gets the path "".
func FieldErrors(err error) []FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []FieldError{*fe}
	}
	return []FieldError{{Msg: err.Error()}}
}

// Label returns name as a Prometheus label value inside a metric name
// written by hand, with quotes and backslashes escaped.
func Label(name string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(name)
}

// FieldPath returns the path of the key at fault.
func (e *FieldError) FieldPath() string { return e.Path }
