package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/store/record"
)

const now = 1700000000000 // Unix ms used as "now" in Add

func TestBatchRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	shared := map[string]string{"host": "h1", "file": "/var/log/a.log"}
	sharedProps := NewProps(shared)
	var many []Message
	for i := range 10000 {
		many = append(many, Message{Key: fmt.Sprint("k", i%7), Tags: fmt.Sprint("tag", i%3), Body: fmt.Appendf(nil, "message number %d", i)})
	}
	tests := []struct {
		name string
		msgs []Message
	}{
		{"one empty message", []Message{{}}},
		{"empty body with the rest", []Message{{Key: "k", Tags: "t", Properties: map[string]string{"a": ""}}}},
		{"properties", []Message{
			{Body: []byte("a"), Properties: map[string]string{"trace": "abc", "": "empty key", "n": strings.Repeat("v", 300)}},
			{Body: []byte("b")},
		}},
		{"extra property beside shared ones", []Message{
			{Body: []byte("a"), Properties: shared, Extra: Property{"offset", "0"}},
			{Body: []byte("b"), Properties: shared, Extra: Property{"offset", "2"}},
			{Body: []byte("c"), Extra: Property{"offset", "4"}},                                                           // no map
			{Body: []byte("d"), Properties: map[string]string{"offset": "old", "x": "y"}, Extra: Property{"offset", "6"}}, // replaces
			{Body: []byte("e"), Properties: map[string]string{"": "empty key"}},                                           // no Extra: "" is a key
		}},
		{"shared properties", []Message{
			{Body: []byte("a"), Shared: sharedProps},
			{Body: []byte("b"), Shared: sharedProps, Extra: Property{"offset", "2"}},
			{Body: []byte("c"), Shared: sharedProps, Extra: Property{"file", "/elsewhere"}},                                      // Extra wins
			{Body: []byte("d"), Shared: sharedProps, Properties: map[string]string{"host": "h2", "x": "y"}},                      // Properties win
			{Body: []byte("e"), Shared: sharedProps, Properties: map[string]string{"host": "h3"}, Extra: Property{"host", "h4"}}, // Extra wins over both
			{Body: []byte("f"), Shared: NewProps(nil)},
		}},
		{"born times negative and positive", []Message{
			{BornMs: now, Body: []byte("1")},
			{BornMs: now - 86_400_000, Body: []byte("2")}, // a day before the first
			{BornMs: now + 5, Body: []byte("3")},
			{Body: []byte("4")}, // 0: Add's bornMs
			{BornMs: 1, Body: []byte("5")},
			{BornMs: -1 << 40, Body: []byte("6")},
		}},
		{"extreme born times", []Message{{BornMs: math.MinInt64}, {BornMs: math.MaxInt64}, {BornMs: -1}}},
		{"keys and tags", []Message{
			{Key: "a", Tags: "x"}, {Tags: "y"}, {Key: "a"}, {Key: "日本語", Tags: "x"},
		}},
		{"large compressible body", []Message{{Body: bytes.Repeat([]byte("0123456789abcdef"), 1<<16)}}},
		{"large random body", []Message{{Key: "r", Body: random}}},
		{"many", many},
	}
	var b BatchBuilder
	var scratch, payload []byte
	for _, tt := range tests {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/lz4=%v", tt.name, compress), func(t *testing.T) {
				b.Reset("topic")
				for i := range tt.msgs {
					b.Add(&tt.msgs[i], now)
				}
				batch := b.Finish(compress, payload)
				payload = batch.Payload
				checkBatch(t, batch, tt.msgs, compress)
				raw, err := Decompress(batch.Attr, batch.Payload, scratch)
				if err != nil {
					t.Fatal(err)
				}
				if batch.Attr&AttrLZ4 != 0 {
					scratch = raw
				}
				if len(raw) != b.Size() {
					t.Errorf("decompressed %d bytes, the builder wrote %d", len(raw), b.Size())
				}
				got := readAll(t, raw, batch.FirstBornMs)
				if len(got) != len(tt.msgs) {
					t.Fatalf("read %d messages, added %d", len(got), len(tt.msgs))
				}
				for i, m := range tt.msgs {
					want := normalize(m)
					if want.BornMs == 0 {
						want.BornMs = now
					}
					if !reflect.DeepEqual(got[i], want) {
						t.Fatalf("message %d:\n got %+v\nwant %+v", i, short(got[i]), short(want))
					}
				}
			})
		}
	}
}

// checkBatch checks what Finish reports besides the payload.
func checkBatch(t *testing.T, batch Batch, msgs []Message, compress bool) {
	t.Helper()
	if batch.Count != uint32(len(msgs)) {
		t.Errorf("Count %d, want %d", batch.Count, len(msgs))
	}
	var tags []string
	var keys []record.KeyRef
	first, last := int64(0), int64(math.MinInt64)
	for i, m := range msgs {
		born := m.BornMs
		if born == 0 {
			born = now
		}
		if i == 0 {
			first = born
		}
		last = max(last, born)
		tags = append(tags, m.Tags)
		if m.Key != "" {
			keys = append(keys, record.KeyRef{Index: uint32(i), Hash: KeyHash("topic", m.Key)})
		}
	}
	if batch.FirstBornMs != first || batch.LastBornMs != last {
		t.Errorf("born %d..%d, want %d..%d", batch.FirstBornMs, batch.LastBornMs, first, last)
	}
	if batch.TagBloom != record.TagBloom(tags...) {
		t.Errorf("tag bloom %#x, want %#x", batch.TagBloom, record.TagBloom(tags...))
	}
	if len(keys) != len(batch.Keys) || (len(keys) > 0 && !reflect.DeepEqual(keys, batch.Keys)) {
		t.Errorf("keys %v, want %v", batch.Keys, keys)
	}
	if !compress && batch.Attr != 0 {
		t.Errorf("uncompressed batch has attributes %#x", batch.Attr)
	}
	if compress && batch.Attr&AttrLZ4 == 0 && len(batch.Payload) > 1000 && bytes.Count(batch.Payload, []byte("0123456789abcdef")) > 10 {
		t.Errorf("a compressible batch of %d bytes was not compressed", len(batch.Payload))
	}
}

// readAll iterates raw messages into Messages.
func readAll(t *testing.T, raw []byte, firstBorn int64) []Message {
	t.Helper()
	var out []Message
	it := NewMessageIter(raw, firstBorn)
	var v MessageView
	for it.Next(&v) {
		m := v.Message()
		pairs := 0
		v.Properties(func(_, _ []byte) { pairs++ })
		if pairs != len(m.Properties) {
			t.Fatalf("message %d has %d properties encoded for %d names", len(out), pairs, len(m.Properties))
		}
		out = append(out, normalize(m))
	}
	if it.Err() != nil {
		t.Fatalf("after %d messages: %v", len(out), it.Err())
	}
	return out
}

// normalize makes empty fields nil so that messages compare.
func normalize(m Message) Message {
	// A reader sees Shared and Extra among the properties.
	m.Properties = MergeProps(m.Shared, maps.Clone(m.Properties), m.Extra)
	m.Shared, m.Extra = nil, Property{}
	if len(m.Body) == 0 {
		m.Body = nil
	}
	if len(m.Properties) == 0 {
		m.Properties = nil
	}
	return m
}

func short(m Message) string {
	body := string(m.Body)
	if len(body) > 40 {
		body = fmt.Sprintf("%s... (%d bytes)", body[:40], len(body))
	}
	return fmt.Sprintf("{key %q tags %q props %v born %d body %q}", m.Key, m.Tags, m.Properties, m.BornMs, body)
}

// Reset forgets the previous batch entirely.
func TestBatchBuilderReset(t *testing.T) {
	var b BatchBuilder
	b.Reset("a")
	b.Add(&Message{Key: "k", Tags: "t", Body: []byte("first")}, 100)
	b.Finish(true, nil)
	b.Reset("b")
	if b.Count() != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: count %d, size %d", b.Count(), b.Size())
	}
	b.Add(&Message{Body: []byte("second")}, 50)
	batch := b.Finish(false, nil)
	if batch.Count != 1 || batch.FirstBornMs != 50 || batch.LastBornMs != 50 || batch.TagBloom != 0 || len(batch.Keys) != 0 {
		t.Fatalf("second batch carries the first: %+v", batch)
	}
	b.Reset("c")
	b.Add(&Message{Key: "k"}, 1)
	if got := b.Finish(false, nil).Keys[0].Hash; got != KeyHash("c", "k") {
		t.Fatalf("key hashed under another topic")
	}
}

// In the steady state, building a batch allocates nothing.
func TestBatchBuilderReuseAllocs(t *testing.T) {
	var b BatchBuilder
	msgs := []Message{{Key: "k", Tags: "t", Body: bytes.Repeat([]byte("body "), 40)}, {Body: []byte("x")}}
	var dst []byte
	build := func() {
		b.Reset("topic")
		for i := range 100 {
			b.Add(&msgs[i%2], now)
		}
		dst = b.Finish(true, dst).Payload
	}
	build()
	if allocs := testing.AllocsPerRun(20, build); allocs != 0 {
		t.Fatalf("a reused builder allocates %v times per batch", allocs)
	}
}

func TestMessageViewProperties(t *testing.T) {
	var b BatchBuilder
	b.Reset("t")
	b.Add(&Message{Properties: map[string]string{"a": "1", "b": "2"}}, 1)
	b.Add(&Message{}, 1)
	raw := b.Finish(false, nil).Payload
	it := NewMessageIter(raw, 1)
	var v MessageView
	if !it.Next(&v) {
		t.Fatal(it.Err())
	}
	if v.Property("a") != "1" || v.Property("b") != "2" || v.Property("c") != "" {
		t.Errorf("properties a=%q b=%q c=%q", v.Property("a"), v.Property("b"), v.Property("c"))
	}
	n := 0
	v.Properties(func(k, v []byte) { n++ })
	if n != 2 {
		t.Errorf("%d properties, want 2", n)
	}
	if !it.Next(&v) {
		t.Fatal(it.Err())
	}
	v.Properties(func(k, _ []byte) { t.Errorf("second message has property %q", k) })
	if m := v.Message(); m.Properties != nil {
		t.Errorf("a message without properties gets %v", m.Properties)
	}
	if it.Next(&v) || it.Err() != nil {
		t.Errorf("past the end: %v", it.Err())
	}
}

// rawMessage encodes one message by hand, so that tests can break it.
func rawMessage(flags uint64, delta int64, fields ...string) []byte {
	var m []byte
	m = binary.AppendUvarint(m, flags)
	m = binary.AppendVarint(m, delta)
	for _, f := range fields {
		if strings.HasPrefix(f, "#") { // a count, not a string
			var n uint64
			fmt.Sscan(f[1:], &n)
			m = binary.AppendUvarint(m, n)
			continue
		}
		m = appendStr(m, f)
	}
	return append(binary.AppendUvarint(nil, uint64(len(m))), m...)
}

func TestMessageIterMalformed(t *testing.T) {
	good := rawMessage(0, 0, "key", "tag", "#1", "p", "v", "body")
	if got := readAllRaw(good); got.err != nil || got.n != 1 {
		t.Fatalf("the good message does not read: %+v", got)
	}
	tests := []struct {
		name  string
		raw   []byte
		n     int // messages before the error
		match string
	}{
		{"truncated length", []byte{0x80}, 0, "bad varint message"},
		{"length past the end", good[:len(good)-1], 0, "message of"},
		{"second truncated", append(bytes.Clone(good), good[:5]...), 1, "message of"},
		{"unknown flags", rawMessage(1, 0, "", "", "#0", ""), 0, "unknown message flags"},
		{"non-minimal flags", append([]byte{6, 0x80, 0x00}, rawMessage(0, 0, "", "", "#0", "")[2:]...), 0, "bad varint flags"},
		{"non-minimal born", []byte{6, 0, 0x80, 0x00, 0, 0, 0}, 0, "bad born"},
		{"no body", rawMessage(0, 0, "k", "t", "#0"), 0, "bad varint body"},
		{"trailing byte", rawMessage(0, 0, "k", "t", "#0", "b", "extra"), 0, "trailing"},
		{"too many properties", rawMessage(0, 0, "k", "t", "#1000", "b"), 0, "properties cannot fit"},
		{"property without value", rawMessage(0, 0, "k", "t", "#1", "p"), 0, "property value"},
		{"key past the message", rawMessage(0, 0, "#9", "t"), 0, "key of 9 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAllRaw(tt.raw)
			if !errors.Is(got.err, ErrBadBody) || !strings.Contains(got.err.Error(), tt.match) {
				t.Fatalf("error %v, want ErrBadBody containing %q", got.err, tt.match)
			}
			if got.n != tt.n {
				t.Fatalf("%d messages before the error, want %d", got.n, tt.n)
			}
		})
	}
}

type readResult struct {
	n   int
	err error
}

func readAllRaw(raw []byte) readResult {
	it := NewMessageIter(raw, 0)
	var v MessageView
	var r readResult
	for it.Next(&v) {
		r.n++
	}
	r.err = it.Err()
	if it.Next(&v) { // an iterator stays stopped
		r.err = errors.New("Next after the end returned true")
	}
	return r
}

func TestDecompress(t *testing.T) {
	var b BatchBuilder
	b.Reset("t")
	b.Add(&Message{Body: bytes.Repeat([]byte("abc"), 1000)}, 1)
	batch := b.Finish(true, nil)
	if batch.Attr&AttrLZ4 == 0 {
		t.Fatal("not compressed")
	}
	raw, err := Decompress(batch.Attr, batch.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A scratch buffer large enough is used as it is.
	scratch := make([]byte, 0, 2*len(raw))
	if allocs := testing.AllocsPerRun(20, func() {
		got, err := Decompress(batch.Attr, batch.Payload, scratch)
		if err != nil || &got[0] != &scratch[:1][0] {
			t.Fatalf("Decompress into scratch: %v", err)
		}
	}); allocs != 0 {
		t.Errorf("Decompress into a large enough scratch allocates %v times", allocs)
	}
	// Without AttrLZ4 the payload is the raw messages.
	if got, err := Decompress(0, raw, nil); err != nil || &got[0] != &raw[0] {
		t.Errorf("uncompressed payload: %v", err)
	}

	lz4Payload := batch.Payload
	k := binary.PutUvarint(make([]byte, 10), uint64(len(raw)))
	tests := []struct {
		name    string
		payload []byte
		match   string
	}{
		{"empty", nil, "bad raw length"},
		{"raw length 0", append([]byte{0}, lz4Payload[k:]...), "0 bytes"}, // crashed lz4's decoder
		{"raw length 0, empty block", []byte{0}, "0 bytes"},
		{"non-minimal length", append([]byte{0x80, 0x00}, lz4Payload[k:]...), "bad raw length"},
		{"over MaxBatchRaw", append(binary.AppendUvarint(nil, MaxBatchRaw+1), lz4Payload[k:]...), "exceeds"},
		{"huge", append(binary.AppendUvarint(nil, 1<<63), 0), "exceeds"},
		{"more than lz4 can expand to", append(binary.AppendUvarint(nil, 1<<20), 1, 2, 3), "cannot hold"},
		{"raw length too large", append(binary.AppendUvarint(nil, uint64(len(raw)+1)), lz4Payload[k:]...), "lz4 gave"},
		{"raw length too small", append(binary.AppendUvarint(nil, uint64(len(raw)-1)), lz4Payload[k:]...), "lz4"},
		{"corrupt block", corrupt(lz4Payload, k), "lz4"},
		{"truncated block", lz4Payload[:len(lz4Payload)-2], "lz4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			// TotalAlloc is process-wide, so the runtime and other goroutines
			// add noise; the least of a few runs, against a limit with 64 KiB
			// of slack, still catches the 1 MiB a claimed length would cost.
			n := uint64(math.MaxUint64)
			for range 5 {
				n = min(n, allocatedBy(func() { _, err = Decompress(AttrLZ4, tt.payload, nil) }))
			}
			if !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), tt.match) {
				t.Fatalf("error %v, want ErrBadBody containing %q", err, tt.match)
			}
			// Only a length that passed the checks may be allocated.
			if limit := uint64(255*len(tt.payload) + 16 + 64<<10); n > limit {
				t.Fatalf("allocated %d bytes for a %d byte payload", n, len(tt.payload))
			}
		})
	}
}

// lz4 cannot expand more than 255-fold, the bound Decompress relies on to
// refuse a raw length before allocating it.
func TestDecompressRatioBound(t *testing.T) {
	var b BatchBuilder
	b.Reset("t")
	b.Add(&Message{Body: make([]byte, 8<<20)}, 1)
	batch := b.Finish(true, nil)
	raw, err := Decompress(batch.Attr, batch.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ratio := float64(len(raw)) / float64(len(batch.Payload)); ratio > 255 || ratio < 200 {
		t.Fatalf("8 MiB of zeros compress %.0f-fold; the bound in Decompress assumes at most 255", ratio)
	}
}

// corrupt garbles the lz4 block after the raw length at k.
func corrupt(payload []byte, k int) []byte {
	p := bytes.Clone(payload)
	for i := k; i < len(p); i += 7 {
		p[i] = 0xff
	}
	return p
}

func TestMessageID(t *testing.T) {
	for _, tt := range []struct {
		pos   int64
		index uint32
		id    string
	}{
		{0, 0, "000000000000000000000000"},
		{1, 2, "000000000000000100000002"},
		{0xABCDEF, 0xFFFF, "0000000000ABCDEF0000FFFF"},
		{math.MaxInt64, math.MaxUint32, "7FFFFFFFFFFFFFFFFFFFFFFF"},
	} {
		if got := MessageID(tt.pos, tt.index); got != tt.id {
			t.Errorf("MessageID(%d, %d) = %s, want %s", tt.pos, tt.index, got, tt.id)
		}
		pos, index, err := ParseMessageID(tt.id)
		if err != nil || pos != tt.pos || index != tt.index {
			t.Errorf("ParseMessageID(%s) = %d, %d, %v", tt.id, pos, index, err)
		}
	}
	if pos, index, err := ParseMessageID("0000000000abcdef0000ffff"); err != nil || pos != 0xABCDEF || index != 0xFFFF {
		t.Errorf("lower case: %d, %d, %v", pos, index, err)
	}
	for _, bad := range []string{
		"", "0", "00000000000000000000000", "0000000000000000000000000",
		"80000000000000000000000", "800000000000000000000000", // a negative position
		"00000000000000000000000G", "+00000000000000000000000", "0x0000000000000000000000",
		"00000000000000_000000000", " 00000000000000000000000", "0000000000000000-0000001",
	} {
		if _, _, err := ParseMessageID(bad); err == nil || !strings.Contains(err.Error(), "message id") {
			t.Errorf("ParseMessageID(%q): %v, want an error", bad, err)
		}
	}
}

func TestPropsHas(t *testing.T) {
	for _, n := range []int{0, 3, 12} {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("name", i)] = "v"
		}
		p := NewProps(m)
		for i := range n {
			if !p.has(fmt.Sprint("name", i)) {
				t.Errorf("%d props: name%d not found", n, i)
			}
		}
		if p.has("name") || p.has(fmt.Sprint("name", n)) || p.has("") {
			t.Errorf("%d props: a name it lacks is found", n)
		}
	}
}
