package event

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/prometheus/prompb"
)

func TestPaths(t *testing.T) {
	e := NewLog("hello", time.Time{}, nil)
	e.Set("http.status", 200.0)
	e.Set("http.method", "GET")
	e.Fields.Set("a.b", "dotted name")
	for _, tt := range []struct {
		path string
		want any
		ok   bool
	}{
		{"message", "hello", true}, {"http.status", 200.0, true}, {"http.method", "GET", true},
		{"a.b", "dotted name", true}, {"http.nope", nil, false}, {"message.x", nil, false}, {"", nil, false},
	} {
		got, ok := e.Get(tt.path)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if s, _ := e.String("http.status"); s != "200" {
		t.Errorf("String(http.status) = %q", s)
	}
	if v, ok := e.Delete("http.method"); !ok || v != "GET" {
		t.Errorf("Delete = %v, %v", v, ok)
	}
	if _, ok := e.Get("http.method"); ok {
		t.Error("deleted field still there")
	}
	if _, ok := e.Delete("no.such"); ok {
		t.Error("Delete of a missing path reported ok")
	}
	e.Set("message.inner", 1.0) // replaces a string with a map on the way
	if v, _ := e.Get("message.inner"); v != 1.0 {
		t.Errorf("Set through a scalar: %v", e.Fields)
	}
}

func TestAppendJSON(t *testing.T) {
	ts := time.Date(2026, 11, 28, 10, 0, 0, 123000000, time.UTC)
	e := NewLog("a \"quoted\"\n\tline \x01 \xff", ts, map[string]string{"host": "h1", "file": "/a.log"})
	e.Fields.Set("n", 1.5)
	e.Fields.Set("i", int64(-3))
	e.Fields.Set("ok", true)
	e.Fields.Set("nil", nil)
	e.Fields.Set("list", []any{"x", 2.0})
	e.Fields.Set("obj", map[string]any{"z": 1.0, "a": "b"})
	e.Fields.Set("inf", math.Inf(1))
	got := string(AppendJSON(nil, e))
	want := `{"timestamp":"2026-11-28T10:00:00.123Z","i":-3,"inf":"+Inf","list":["x",2],"message":"a \"quoted\"\n\tline \u0001 \ufffd",` +
		`"n":1.5,"nil":null,"obj":{"a":"b","z":1},"ok":true,"meta":{"file":"/a.log","host":"h1"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e.Fields.Set("timestamp", "own")
	if got := string(AppendJSON(nil, &Event{Fields: FieldsOf(map[string]any{"timestamp": "own"})})); got != `{"timestamp":"own"}` {
		t.Fatalf("own timestamp field: %s", got)
	}
	m := &Event{Kind: KindMetric, Time: ts, Series: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "n"}},
		Samples: []prompb.Sample{{Timestamp: 1, Value: 1}, {Timestamp: 2, Value: math.NaN()}},
	}}}
	want = `{"timestamp":"2026-11-28T10:00:00.123Z","series":[{"labels":{"__name__":"up","job":"n"},"samples":[[1,1],[2,"NaN"]]}]}`
	if got := string(AppendJSON(nil, m)); got != want {
		t.Fatalf("metric event:\ngot  %s\nwant %s", got, want)
	}
	if m.Samples() != 2 {
		t.Fatalf("Samples() = %d", m.Samples())
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"s", "s"}, {nil, ""}, {2.50, "2.5"}, {int64(7), "7"}, {7, "7"}, {false, "false"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
		{map[string]any{"a": 1.0}, `{"a":1}`},
	} {
		if got := Format(tt.v); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := NewLog("GET /api/v1/orders 200 12ms", time.Now(), map[string]string{"host": "h1", "file": "/var/log/a.log", "topic": "logs"})
	e.Fields.Set("level", "info")
	e.Fields.Set("service", "checkout")
	e.Fields.Set("latency_ms", 12.5)
	e.Fields.Set("status", 200.0)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	for _, tt := range []time.Time{
		time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)),
		time.Date(5, 6, 7, 8, 9, 10, 1, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	} {
		if got, want := string(appendTime(nil, tt)), tt.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tt, got, want)
		}
	}
}

// TestAppendFloatMatchesStrconv: the integer fast path writes what
// strconv's shortest 'g' form writes.
func TestAppendFloatMatchesStrconv(t *testing.T) {
	check := func(f float64) {
		t.Helper()
		if got, want := string(appendFloat(nil, f)), strconv.FormatFloat(f, 'g', -1, 64); got != want {
			t.Fatalf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 42, 999999, -999999, 1e6, -1e6, 123456.5, 0.5, 1e21, 1e-7,
		0.0001, -0.0001, 0.00011, 0.00009, 999999.9999, -999999.9999, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.005, 2.675, 12.5, 0.0625} {
		check(f)
	}
	// Every decimal of up to 4 places around the edges and across the
	// range, read as JSON numbers are; then values of no short decimal.
	rnd := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		n := rnd.Int64N(2e10) - 1e10
		d := rnd.IntN(6)
		f, err := strconv.ParseFloat(strconv.FormatInt(n, 10)+"e-"+strconv.Itoa(d), 64)
		if err != nil {
			t.Fatal(err)
		}
		check(f)
		check(rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(12)-6)))
	}
}

// unsafeBytes's lowest mark is the first byte jsonSafe refuses: every byte
// value at every position among safe bytes, and random words, borrows
// included.
func TestUnsafeBytesMatchesTheTable(t *testing.T) {
	check := func(b []byte) {
		want := 8
		for i, c := range b {
			if !jsonSafe[c] {
				want = i
				break
			}
		}
		if got := bits.TrailingZeros64(unsafeBytes(load8(string(b)))) >> 3; got != want {
			t.Fatalf("unsafeBytes(%q) marks byte %d first, want %d", b, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			check(b)
			b = []byte("        ") // 0x20: the smallest safe byte
			b[pos] = byte(c)
			check(b)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		var b [8]byte
		for i := range b {
			b[i] = byte(rnd.Uint32())
			if rnd.IntN(2) == 0 {
				b[i] = byte(0x20 + rnd.IntN(0x60))
			}
		}
		check(b[:])
	}
}

// AppendString writes what encoding/json writes for valid UTF-8, but for
// < > & and U+2028/9, which encoding/json escapes for HTML.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain ascii text of some length", "tab\there", `quote " and \ back`,
		"ctl \x01\x1f end", "日本語のテキスト and more", "\x7f del", "exactly8", "exactly8exactly8\"", "é"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for name, s := range map[string]string{
		"text": "request served GET /api/v1/items/42 from 10.1.2.3:51234 in 12.5 ms, 5123 bytes",
		"json": `{"time":"2026-11-28T10:00:00.000001Z","level":"info","service":"checkout","msg":"order placed","order_id":100001,"path":"/api/v1/orders"}`,
	} {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = AppendString(buf[:0], s)
			}
		})
	}
}

// Whatever the string, AppendString writes a JSON string that decodes to
// what encoding/json's own encoding of it decodes to (invalid UTF-8
// replaced byte by byte): lengths around the 8-byte steps, and bytes
// that need escaping at every position, tails included.
func TestAppendStringRoundTrips(t *testing.T) {
	alphabet := []string{"a", "b", "Z", " ", "~", `"`, `\`, "\n", "\t", "\x00", "\x1f", "\x7f", "é", "日", "\xff", "\xe6\x97", "\u2028", "<"}
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		var b strings.Builder
		for n := rnd.IntN(40); b.Len() < n; {
			if rnd.IntN(4) == 0 {
				b.WriteString(alphabet[rnd.IntN(len(alphabet))])
			} else {
				b.WriteByte(byte('a' + rnd.IntN(26)))
			}
		}
		s := b.String()
		var got, want string
		out := AppendString(nil, s)
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: not JSON: %v", s, out, err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("AppendString(%q) = %s decodes to %q, want %q", s, out, got, want)
		}
	}
}

// FuzzAppendString is TestAppendStringRoundTrips for any string, appended
// to a dst of any length with little room, which puts the 8-byte stores
// and the growing of buf at every offset: blocks of quotes and
// backslashes only, escaped in place, double in size.
func FuzzAppendString(f *testing.F) {
	f.Add(strings.Repeat(`"`, 17), uint8(0))
	f.Add(strings.Repeat(`\"`, 9)+"x", uint8(3))
	f.Add(`{"time":"2026-11-28T10:00:00Z","msg":"a \"quoted\" word"}`+"\x01é\xff", uint8(7))
	f.Fuzz(func(t *testing.T, s string, prefix uint8) {
		dst := append(make([]byte, 0, int(prefix)+1), strings.Repeat("p", int(prefix))...)
		out := AppendString(dst, s)
		if string(out[:prefix]) != strings.Repeat("p", int(prefix)) {
			t.Fatalf("AppendString wrote over dst: %q", out[:prefix])
		}
		var got, want string
		if err := json.Unmarshal(out[prefix:], &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: not JSON: %v", s, out[prefix:], err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("AppendString(%q) = %s decodes to %q, want %q", s, out[prefix:], got, want)
		}
	})
}

// SkipJSONSafe stops where a byte loop over jsonSafe stops, from every
// start, for lengths around its 8-byte steps and the tail it reads as
// the last 8 bytes of s.
func TestSkipJSONSafeMatchesTheTable(t *testing.T) {
	alphabet := []byte{'a', ' ', '~', '"', '\\', '\n', 0, 0x7f, 0x80, 0xff, 'z'}
	rnd := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		b := make([]byte, rnd.IntN(30))
		for i := range b {
			b[i] = 'a'
			if rnd.IntN(6) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			}
		}
		s := string(b)
		for i := 0; i <= len(s); i++ {
			want := i
			for want < len(s) && jsonSafe[s[want]] {
				want++
			}
			if got := SkipJSONSafe(s, i); got != want {
				t.Fatalf("SkipJSONSafe(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	}
}

// A clone equals its event and shares no memory with it: overwriting the
// bytes the event's strings were made of leaves the clone as it was.
func TestCloneSharesNothing(t *testing.T) {
	buf := []byte("message host h1 level info nested a b le 0.5 help x")
	str := func(from, to int) string { return unsafe.String(&buf[from], to-from) }
	e := &Event{Kind: KindLog, Time: time.Unix(5, 0), Routes: []string{str(8, 12)},
		Fields: FieldsOf(map[string]any{str(0, 7): str(8, 15), "level": str(21, 25), "n": 1.5,
			"nested": map[string]any{"a": []any{str(33, 36), true, nil}}}),
		Meta: map[string]string{str(8, 12): str(13, 15)},
		Series: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: str(37, 39), Value: str(40, 43)}},
			Samples:    []prompb.Sample{{Value: 1, Timestamp: 2}},
			Exemplars:  []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: str(40, 43)}}}},
			Histograms: []prompb.Histogram{{PositiveDeltas: []int64{1, 2}, PositiveSpans: []prompb.BucketSpan{{Length: 2}}}}}},
		Metadata: []prompb.MetricMetadata{{MetricFamilyName: str(37, 39), Help: str(49, 51)}},
	}
	c := e.Clone()
	if !reflect.DeepEqual(c, e) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, e)
	}
	want := fmt.Sprintf("%+v", *c)
	for i := range buf {
		buf[i] = '#'
	}
	e.Series[0].Samples[0].Value = 9
	e.Series[0].Histograms[0].PositiveDeltas[0] = 9
	e.Fields.Value("nested").(map[string]any)["a"].([]any)[1] = false
	if got := fmt.Sprintf("%+v", *c); got != want {
		t.Fatalf("the clone changed with its event:\n got %s\nwant %s", got, want)
	}
}

// Strings of bytes that escape to the most (control characters, 6 bytes
// each) and runes across AppendString's 8-byte words, at every length
// and offset into a buffer, grow it rather than write past it.
func TestAppendStringWorstCases(t *testing.T) {
	for _, unit := range []string{"\x01", "\x01日", "\"\x1f", "日本\x00", "\xff\x01"} {
		for n := range 40 {
			s := strings.Repeat(unit, n)
			want, _ := json.Marshal(s)
			for pre := range 9 {
				dst := make([]byte, pre, pre+n%5)
				if got := AppendString(dst, s)[pre:]; string(got) != string(want) {
					t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}

// LabelNameLess orders names as string comparison does, first bytes
// that differ or not, empty names included.
func TestLabelNameLess(t *testing.T) {
	names := []string{"", "a", "b", "__name__", "pod", "pod_template_hash", "path", "Z", "é", "ab", "aa"}
	for _, a := range names {
		for _, b := range names {
			if got, want := LabelNameLess(a, b), a < b; got != want {
				t.Errorf("LabelNameLess(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}
