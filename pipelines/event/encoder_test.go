package event

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// A JSONEncoder writes exactly what AppendJSON writes, whatever the
// sequence of events: the same names, names added, removed or swapped
// for others of the same count, meta or not, metrics between logs.
func TestJSONEncoderMatchesAppendJSON(t *testing.T) {
	names := []string{"a", "b", "level", "msg", "timestamp", "z", "日本", "n1", "n2"}
	rnd := rand.New(rand.NewPCG(9, 10))
	var enc JSONEncoder
	for i := range 20000 {
		var e *Event
		if rnd.IntN(50) == 0 {
			e = &Event{Kind: KindMetric, Time: time.UnixMilli(int64(i))}
		} else {
			e = NewLog(fmt.Sprint("line ", i), time.UnixMilli(int64(i)), nil)
			for range rnd.IntN(4) + rnd.IntN(2)*14 { // sometimes over the 16 names it remembers
				e.Fields.Set(names[rnd.IntN(len(names))]+fmt.Sprint(rnd.IntN(1+rnd.IntN(20))), float64(i))
			}
			if rnd.IntN(3) > 0 {
				e.Meta = map[string]string{"host": "h", "file": fmt.Sprint("f", rnd.IntN(2))}
				if rnd.IntN(2) == 0 {
					e.Meta[names[rnd.IntN(len(names))]] = "x"
				}
			}
		}
		want := string(AppendJSON(nil, e))
		if got := string(enc.Append(nil, e)); got != want {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func BenchmarkJSONEncoder(b *testing.B) {
	e := NewLog("GET /api/v1/orders 200 12ms", time.Now(), map[string]string{"host": "h1", "file": "/var/log/a.log", "topic": "logs"})
	e.Fields.Set("level", "info")
	e.Fields.Set("service", "checkout")
	e.Fields.Set("latency_ms", 12.5)
	e.Fields.Set("status", 200.0)
	var enc JSONEncoder
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Append(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

// The names the encoder remembers are its own: an event's names may be
// bytes of a batch whose memory is reused, and the next batch's events
// may have other names at the same bytes.
func TestJSONEncoderNamesOverReusedMemory(t *testing.T) {
	buf := []byte("ab")
	a, b := unsafe.String(&buf[0], 1), unsafe.String(&buf[1], 1)
	var enc JSONEncoder
	for i, names := range []string{"ab", "ba", "ab"} {
		copy(buf, names)
		e := &Event{Kind: KindLog}
		e.Fields.Set(a, 1.0)
		e.Fields.Set(b, 2.0)
		got, want := string(enc.Append(nil, e)), string(AppendJSON(nil, e))
		if got != want {
			t.Fatalf("event %d: got %s, want %s", i, got, want)
		}
	}
}
