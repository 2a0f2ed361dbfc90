package parse

import (
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// line200 is a typical JSON log line of 200 bytes.
const line200 = `{"ts":"2026-11-28T17:47:00.123Z","level":"info","msg":"request served","method":"GET","path":"/api/v1/items/42","status":200,"bytes":5123,"duration_ms":12.5,"remote":"10.1.2.3:51234","ok":true}`

// logfmt200 is the same line in logfmt.
const logfmt200 = `ts=2026-11-28T17:47:00.123Z level=info msg="request served" method=GET path=/api/v1/items/42 status=200 bytes=5123 duration_ms=12.5 remote=10.1.2.3:51234 ok=true`

const syslog200 = `<165>1 2026-11-28T17:47:00.123Z web-1.example.com api 4123 ID47 [req@32473 id="9f2c" user="deploy"] request served GET /api/v1/items/42 200 5123B 12.5ms`

func BenchmarkParseJSON(b *testing.B) {
	p, err := NewJSON(JSONConfig{Common{RemoveSource: true}}, newHarness("bench").set)
	if err != nil {
		b.Fatal(err)
	}
	benchProcess(b, p, line200, 10)
}

func BenchmarkParseLogfmt(b *testing.B) {
	p, err := NewLogfmt(LogfmtConfig{Common{RemoveSource: true}}, newHarness("bench").set)
	if err != nil {
		b.Fatal(err)
	}
	benchProcess(b, p, logfmt200, 10)
}

func BenchmarkParseRegex(b *testing.B) {
	p, err := NewRegex(RegexConfig{Pattern: `^ts=(?P<ts>\S+) level=(?P<level>\w+) msg="(?P<msg>[^"]*)"`}, newHarness("bench").set)
	if err != nil {
		b.Fatal(err)
	}
	benchProcess(b, p, logfmt200, 4)
}

func BenchmarkParseSyslog(b *testing.B) {
	p, err := NewSyslog(SyslogConfig{}, newHarness("bench").set)
	if err != nil {
		b.Fatal(err)
	}
	benchProcess(b, p, syslog200, 11)
}

func BenchmarkTimestamp(b *testing.B) {
	p, err := NewTimestamp(TimestampConfig{Field: "message"}, newHarness("bench").set)
	if err != nil {
		b.Fatal(err)
	}
	benchProcess(b, p, "2026-11-28T17:47:00.123456Z", 1)
}

// benchProcess passes batches of 256 events holding line through p, as
// a pipeline does, and checks that each came out with fields fields.
// Making the events is not timed; ns/op is per event.
func benchProcess(b *testing.B, p component.Processor, line string, fields int) {
	const batch = 256
	events := make([]*event.Event, batch)
	store := make([]event.Event, batch)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		b.StopTimer()
		for j := range n {
			store[j] = event.Event{Kind: event.KindLog, Time: readTime, Fields: event.FieldsOf(map[string]any{event.FieldMessage: line})}
			events[j] = &store[j]
		}
		b.StartTimer()
		out := p.Process(events[:n])
		if len(out) != n || out[0].Fields.Len() != fields {
			b.Fatalf("%d events out of %d, fields %v", len(out), n, out[0].Fields)
		}
	}
}

// BenchmarkEncodingJSONReference is what BenchmarkParseJSON replaces:
// encoding/json decoding the same line into the event's fields. The
// ratio of the two holds on any machine.
func BenchmarkEncodingJSONReference(b *testing.B) {
	b.SetBytes(int64(len(line200)))
	b.ReportAllocs()
	for b.Loop() {
		fields := map[string]any{}
		if err := json.Unmarshal([]byte(line200), &fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONDecode is the decoder alone on line200, with the room
// parse_json asks for: what BenchmarkParseJSON costs beyond the
// processor's own work.
func BenchmarkJSONDecode(b *testing.B) {
	var d jsonDecoder
	b.SetBytes(int64(len(line200)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(line200, true, 1); err != nil {
			b.Fatal(err)
		}
	}
}
