package collector

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/event"
)

// A batch decoded into the memory of the one before it gets events of
// its own: no field a processor set on the old events, no old labels,
// and trim leaves no old event or field referenced.
func TestBatchMemoryReuse(t *testing.T) {
	wr := sampleWriteRequest()
	metrics, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	batch := func(round int) []client.Message {
		var msgs []client.Message
		for i := range 50 {
			if i%10 == 9 {
				msgs = append(msgs, client.Message{Topic: "m", Body: metrics,
					Properties: map[string]string{"content-type": ContentTypeWriteRequest}})
				continue
			}
			msgs = append(msgs, client.Message{Topic: "logs", Body: fmt.Appendf(nil, "round %d line %d", round, i)})
		}
		return msgs
	}
	mem := &batchMem{}
	bad := func(err error) { t.Fatal(err) }
	old := decodeBatch(batch(1), mem, bad)
	for _, e := range old {
		if e.Kind == event.KindLog {
			e.Fields.Set("added", "by a processor")
			e.Fields.Set("message", "changed")
		} else {
			e.Series[0].Labels[0].Value = "changed"
		}
	}
	mem.trim()
	for i := range mem.slab {
		if mem.slab[i].Fields.Len() != 0 || mem.slab[i].Meta != nil || mem.slab[i].Series != nil {
			t.Fatalf("trim left event %d referenced: %+v", i, mem.slab[i])
		}
	}
	for _, f := range mem.fields {
		if len(f) != 0 {
			t.Fatalf("trim left a fields map with %v", f)
		}
	}
	for i, e := range decodeBatch(batch(2), mem, bad) {
		if e.Kind == event.KindMetric {
			sameSeries(t, e.Series, wr.Timeseries, e.Metadata, wr.Metadata)
			continue
		}
		want := map[string]any{"message": fmt.Sprintf("round 2 line %d", i)}
		if fmt.Sprint(e.Fields) != fmt.Sprint(want) {
			t.Fatalf("event %d: fields %v, want %v", i, e.Fields, want)
		}
	}
}
