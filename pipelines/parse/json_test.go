package parse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

func TestParseJSON(t *testing.T) {
	for _, tc := range []struct {
		cfg   JSONConfig
		cases []procCase
	}{
		{JSONConfig{}, []procCase{
			{name: "merge", in: map[string]any{"message": `{"level":"info","n":3,"ok":true,"none":null,"tags":["a",1],"http":{"status":200}}`, "app": "web"},
				want: map[string]any{"message": `{"level":"info","n":3,"ok":true,"none":null,"tags":["a",1],"http":{"status":200}}`, "app": "web",
					"level": "info", "n": 3.0, "ok": true, "none": nil, "tags": []any{"a", 1.0}, "http": map[string]any{"status": 200.0}}},
			{name: "parsed keys replace fields", in: map[string]any{"message": `{"message":"inner","app":"api"}`, "app": "web"},
				want: map[string]any{"message": "inner", "app": "api"}},
			{name: "escapes and unicode", in: msg(`{"s":"a\"b\\c\n\u00e9\ud83d\ude00/","k\u00e9y":"x"}`),
				want: map[string]any{"message": `{"s":"a\"b\\c\n\u00e9\ud83d\ude00/","k\u00e9y":"x"}`, "s": "a\"b\\c\né😀/", "kéy": "x"}},
			{name: "repeated key keeps the last", in: msg(`{"a":1,"a":2}`), want: map[string]any{"message": `{"a":1,"a":2}`, "a": 2.0}},
			{name: "empty object", in: msg(` {} `), want: msg(` {} `)},
			{name: "number is not an object", in: msg(`42`), want: msg(`42`), failed: true},
			{name: "array is not an object", in: msg(`[1]`), want: msg(`[1]`), failed: true},
			{name: "invalid JSON", in: msg(`{"a":`), want: msg(`{"a":`), failed: true},
			{name: "invalid after members: fields unchanged", in: map[string]any{"message": `{"a":1,"app":"x","b":}`, "app": "web"},
				want: map[string]any{"message": `{"a":1,"app":"x","b":}`, "app": "web"}, failed: true},
			{name: "trailing garbage", in: msg(`{"a":1} x`), want: msg(`{"a":1} x`), failed: true},
			{name: "plain text", in: msg(`hello world`), want: msg(`hello world`), failed: true},
			{name: "NaN refused", in: msg(`{"a":NaN}`), want: msg(`{"a":NaN}`), failed: true},
			{name: "number out of range", in: msg(`{"a":1e400}`), want: msg(`{"a":1e400}`), failed: true},
			{name: "missing field", in: map[string]any{"other": "x"}, want: map[string]any{"other": "x"}, failed: true},
			{name: "field not a string", in: map[string]any{"message": 3.0}, want: map[string]any{"message": 3.0}, failed: true},
		}},
		{JSONConfig{Common{OnError: "drop"}}, []procCase{
			{name: "drop on error", in: msg(`{`), want: nil, failed: true},
			{name: "kept when it parses", in: msg(`{"a":"b"}`), want: map[string]any{"message": `{"a":"b"}`, "a": "b"}},
		}},
		{JSONConfig{Common{RemoveSource: true}}, []procCase{
			{name: "source removed", in: map[string]any{"message": `{"a":"b"}`, "x": 1.0}, want: map[string]any{"a": "b", "x": 1.0}},
			{name: "source replaced, not removed", in: msg(`{"message":"m"}`), want: msg("m")},
			{name: "kept on error", in: msg(`nope`), want: msg(`nope`), failed: true},
			{name: "kept on an error after members", in: msg(`{"a":1,"message":"m",}`), want: msg(`{"a":1,"message":"m",}`), failed: true},
		}},
		{JSONConfig{Common{Field: "body.raw", Target: "parsed.doc", RemoveSource: true}}, []procCase{
			{name: "nested field to target", in: map[string]any{"body": map[string]any{"raw": `{"a":[true]}`, "keep": "k"}},
				want: map[string]any{"body": map[string]any{"keep": "k"}, "parsed": map[string]any{"doc": map[string]any{"a": []any{true}}}}},
			{name: "a number under a target", in: map[string]any{"body": map[string]any{"raw": `-1.5e3`}},
				want: map[string]any{"body": map[string]any{}, "parsed": map[string]any{"doc": -1500.0}}},
			{name: "a string under a target", in: map[string]any{"body": map[string]any{"raw": `"s"`}},
				want: map[string]any{"body": map[string]any{}, "parsed": map[string]any{"doc": "s"}}},
		}},
		{JSONConfig{Common{Target: "message"}}, []procCase{
			{name: "target is the field", in: msg(`{"a":null}`), want: map[string]any{"message": map[string]any{"a": nil}}},
		}},
	} {
		runCases(t, tc.cases, func(set component.Settings) (component.Processor, error) { return NewJSON(tc.cfg, set) })
	}
}

// The key cache and the string arena are per processor: values of one
// event must not change when the next one is parsed.
func TestParseJSONReuse(t *testing.T) {
	p, err := NewJSON(JSONConfig{}, newHarness("x").set)
	if err != nil {
		t.Fatal(err)
	}
	evs := []*event.Event{
		{Kind: event.KindLog, Fields: event.FieldsOf(msg(`{"k":"first","n":"one"}`))},
		{Kind: event.KindLog, Fields: event.FieldsOf(msg(`{"k":"second","n":"two"}`))},
		{Kind: event.KindMetric},
		{Kind: event.KindLog, Fields: event.FieldsOf(msg(`{"k":"third","n":"three"}`))},
	}
	out := p.Process(evs)
	if len(out) != 4 {
		t.Fatalf("%d events out", len(out))
	}
	for i, want := range []string{"first|one", "second|two", "", "third|three"} {
		if want == "" {
			if out[i].Kind != event.KindMetric || out[i].Fields.Len() != 0 {
				t.Errorf("metric event changed: %+v", out[i])
			}
			continue
		}
		if got := out[i].Fields.Value("k").(string) + "|" + out[i].Fields.Value("n").(string); got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
	}
}

// The key cache is bounded: a stream of ever-new keys empties it.
func TestJSONKeyCacheBound(t *testing.T) {
	var d jsonDecoder
	for i := range maxKeys + 10 {
		if _, err := d.decode(fmt.Sprintf(`{"k%d":1}`, i), true, 0); err != nil {
			t.Fatal(err)
		}
		if len(d.keys) > maxKeys {
			t.Fatalf("%d keys cached", len(d.keys))
		}
	}
	if len(d.keys) != 10 {
		t.Errorf("%d keys cached after it was emptied, want 10", len(d.keys))
	}
}

// A document larger than an arena chunk: strings spread over several
// arenas, and one as large as a chunk by itself, all intact.
func TestDecodeJSONLarge(t *testing.T) {
	big := strings.Repeat("b", arenaChunk)
	want := map[string]any{"big": big}
	doc := `{"big":"` + big + `"`
	for i := range 50 {
		k, v := fmt.Sprintf("k%d", i), strings.Repeat(string(rune('a'+i%26)), 1000+i)
		want[k] = v
		doc += `,"` + k + `":"` + v + `"`
	}
	doc += "}"
	var d jsonDecoder
	got, err := d.decode(doc, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.decode(`{"next":"document"}`, true, 0); err != nil {
		t.Fatal(err)
	}
	if !equalValues(got, want) {
		t.Errorf("large document decoded wrong")
	}
}
