package parse

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Valid documents of every kind decode to the values written here,
// which are also what encoding/json makes of them.
func TestJSONDecoderValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{`{}`, map[string]any{}},
		{` [] `, []any{}},
		{"\t\r\n null \n", nil},
		{`true`, true},
		{`false`, false},
		{`""`, ""},
		{`{"a":{"b":[1,{"c":[[]]},"d"]},"e":null}`, map[string]any{"a": map[string]any{"b": []any{1.0, map[string]any{"c": []any{[]any{}}}, "d"}}, "e": nil}},
		{`[ 1 , "x" , true , false , null , { } , [ ] ]`, []any{1.0, "x", true, false, nil, map[string]any{}, []any{}}},
		{`{"a":1,"a":2,"b":3,"a":4}`, map[string]any{"a": 4.0, "b": 3.0}},
		// Escapes, surrogates and UTF-8.
		{`"\" \\ \/ \b \f \n \r \t"`, "\" \\ / \b \f \n \r \t"},
		{`"\u0000\u001f\u00e9\u20AC\uffff"`, "\x00\x1f\u00e9\u20ac\uffff"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\uD83D\uDE00x"`, "😀x"},
		{`"\ud800"`, "\ufffd"},
		{`"\udc00\ud800"`, "\ufffd\ufffd"},
		{`"\ud800\u0041"`, "\ufffdA"},
		{`"\ud800\ud800\udc00"`, "\ufffd\U00010000"},
		{`"\ud800x"`, "\ufffdx"},
		{`"héllo, 世界 😀"`, "héllo, 世界 😀"},
		{"\"\xff\xfe a \xc3\"", "\ufffd\ufffd a \ufffd"},
		{"\"\xed\xa0\x80\"", "\ufffd\ufffd\ufffd"}, // a surrogate in UTF-8
		{"{\"\xff\\n\":1}", map[string]any{"\ufffd\n": 1.0}},
		{`{"k\u00e9y":"v","kéy":"w"}`, map[string]any{"kéy": "w"}},
		{"\"\u2028\u2029\x7f\"", "\u2028\u2029\x7f"},
		// Numbers at the edges.
		{`0`, 0.0},
		{`-0`, math.Copysign(0, -1)},
		{`-0.0e+0`, math.Copysign(0, -1)},
		{`1e308`, 1e308},
		{`-1.7976931348623157e308`, -math.MaxFloat64},
		{`1E-7`, 1e-7},
		{`1e-400`, 0.0},
		{`5e-324`, 5e-324},
		{`12.5`, 12.5},
		{`0.1`, 0.1},
		{`123456789012345`, 123456789012345.0},
		{`1234567890123456789`, 1234567890123456789.0},
		{`9007199254740993`, 9007199254740992.0},
		{`123456789012345678901234567890`, 1.2345678901234568e29},
		{`0.000000000000000000000000001`, 1e-27},
		{`3.14159265358979323846`, math.Pi},
		{`[-1,2.5e3,1E+2,0.5e-1]`, []any{-1.0, 2500.0, 100.0, 0.05}},
	} {
		var d jsonDecoder
		got, err := d.decode(tc.in, false, 0)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, show(got), show(tc.want))
		}
		if f, ok := tc.want.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
			t.Errorf("%q: sign of %v", tc.in, got)
		}
		var std any
		if err := json.Unmarshal([]byte(tc.in), &std); err != nil || !reflect.DeepEqual(std, tc.want) {
			t.Errorf("%q: encoding/json makes %s (%v), not what the test wants", tc.in, show(std), err)
		}
	}
}

// Invalid documents are refused, as encoding/json refuses them, with an
// error that tells what and where.
func TestJSONDecoderInvalid(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{``, "unexpected end of JSON input at offset 0"},
		{`   `, "unexpected end of JSON input at offset 3"},
		{`x`, "invalid character 'x' looking for beginning of value at offset 0"},
		{`{"a" 1}`, "invalid character '1' after object key at offset 5"},
		{`{"abcdefghijklmno"x}`, "invalid character 'x' after object key at offset 18"},
		{`{"a":1 "b":2}`, "invalid character '\"' after object key:value pair at offset 7"},
		{`{"a":1,}`, "invalid character '}' looking for beginning of object key string at offset 7"},
		{`{1:2}`, "looking for beginning of object key string at offset 1"},
		{`[1,]`, "invalid character ']' looking for beginning of value at offset 3"},
		{`[1 2]`, "invalid character '2' after array element at offset 3"},
		{`[1`, "unexpected end of JSON input at offset 2"},
		{`{"a":1} x`, "invalid character 'x' after top-level value at offset 8"},
		{`1 2`, "after top-level value at offset 2"},
		{`tru`, "unexpected end of JSON input"},
		{`nul1`, "invalid character '1' in literal null (expecting 'l') at offset 3"},
		{`True`, "invalid character 'T' looking for beginning of value"},
		{`NaN`, "looking for beginning of value"},
		{`-Inf`, "invalid character 'I' in numeric literal at offset 1"},
		// Strings.
		{"\"tab\there\"", `invalid character '\t' in string literal at offset 4`},
		{"\"a\x00\"", `invalid character '\x00' in string literal at offset 2`},
		{`"\x"`, "invalid character 'x' in string escape code at offset 2"},
		{`"\'"`, `invalid character '\'' in string escape code at offset 2`},
		{`"\u12"`, `invalid character '"' in \u hexadecimal character escape at offset 5`},
		{`"\u12g4"`, `invalid character 'g' in \u hexadecimal character escape at offset 5`},
		{`"abc`, "unexpected end of JSON input at offset 4"},
		{`"abc\`, "unexpected end of JSON input"},
		// Numbers.
		{`+1`, "invalid character '+' looking for beginning of value"},
		{`01`, "invalid character '1' after top-level value at offset 1"},
		{`{"a":01}`, "invalid character '1' after object key:value pair at offset 6"},
		{`.5`, "invalid character '.' looking for beginning of value"},
		{`1.`, "unexpected end of JSON input at offset 2"},
		{`1.e5`, "invalid character 'e' after decimal point in numeric literal at offset 2"},
		{`1e`, "unexpected end of JSON input"},
		{`1e+`, "unexpected end of JSON input"},
		{`1ex`, "invalid character 'x' in exponent of numeric literal at offset 2"},
		{`-`, "unexpected end of JSON input at offset 1"},
		{`-a`, "invalid character 'a' in numeric literal at offset 1"},
		{`0x10`, "invalid character 'x' after top-level value"},
		{`1_000`, "invalid character '_' after top-level value"},
		{`{"a":1e400}`, `JSON number out of range: "1e400" at offset 5`},
		{`-1e309`, "JSON number out of range"},
		// Nesting.
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "exceeded max depth at offset 10000"},
		{strings.Repeat(`{"a":`, maxDepth+1), "exceeded max depth"},
		{strings.Repeat("[", 1_000_000), "exceeded max depth"},
	} {
		var d jsonDecoder
		got, err := d.decode(tc.in, false, 0)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%.40q: got %s, %v; want an error with %q", tc.in, show(got), err, tc.err)
		}
		var std any
		if json.Unmarshal([]byte(tc.in), &std) == nil {
			t.Errorf("%.40q: encoding/json takes it", tc.in)
		}
	}
}

// encoding/json's nesting limit is 10000 containers: as deep is taken.
func TestJSONDecoderMaxDepth(t *testing.T) {
	doc := strings.Repeat(`{"a":[`, maxDepth/2) + "1" + strings.Repeat("]}", maxDepth/2)
	var d jsonDecoder
	got, err := d.decode(doc, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("deep document decoded wrong")
	}
}

// With object true, the document must be an object, and its map has
// room for more keys; what is not JSON at all says so.
func TestJSONDecoderObject(t *testing.T) {
	var d jsonDecoder
	m, err := d.decode(` {"a":"b"} `, true, 5)
	if err != nil || !reflect.DeepEqual(m, map[string]any{"a": "b"}) {
		t.Fatalf("got %s, %v", show(m), err)
	}
	for in, want := range map[string]string{
		`[1]`:        "a JSON array",
		` "s"`:       "a JSON string",
		`-1`:         "a JSON number",
		`false`:      "a JSON boolean",
		`null`:       "a JSON null",
		`not json`:   "invalid character 'o' in literal null (expecting 'u') at offset 1",
		`[1,`:        "unexpected end of JSON input",
		`"\ud800"x`:  "a JSON string", // the value, not what follows
		`{"a":1}}`:   "after top-level value",
		`{"a":[1,}}`: "looking for beginning of value",
	} {
		_, err := d.decode(in, true, 0)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
		if strings.HasPrefix(want, "a JSON") != errors.Is(err, errNotObject) {
			t.Errorf("%q: %v is errNotObject: %v", in, err, errors.Is(err, errNotObject))
		}
	}
}

// Keys with escapes are cached by their text, and two texts of one key
// give the same key; an escaped key is not taken for its unescaped text.
func TestJSONDecoderKeys(t *testing.T) {
	var d jsonDecoder
	for range 3 {
		for _, tc := range []struct {
			in   string
			want map[string]any
		}{
			{`{"\u0041":1,"A":2,"\\u0041":3}`, map[string]any{"A": 2.0, `\u0041`: 3.0}},
			{`{"\\u0041":1,"\u0041":2}`, map[string]any{"A": 2.0, `\u0041`: 1.0}},
			{`{"a\"b":1,"":2}`, map[string]any{`a"b`: 1.0, "": 2.0}},
		} {
			got, err := d.decode(tc.in, true, 0)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%q: got %s, %v; want %s", tc.in, show(got), err, show(tc.want))
			}
		}
	}
}

// A document's values stay as they are when later documents are
// decoded: the arena, the boxes and the stacks are not written over.
func TestJSONDecoderValuesStay(t *testing.T) {
	var d jsonDecoder
	docs := []string{
		`{"s":"one","n":1,"a":["x",2,{"y":"z"}],"e":"\n"}`,
		`{"s":"two","n":2,"a":["p",3,{"y":"q"}],"e":"\t"}`,
	}
	var got []any
	for range 200 { // more than a box slab
		for _, doc := range docs {
			v, err := d.decode(doc, true, 0)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
	}
	for i, v := range got {
		var want any
		if err := json.Unmarshal([]byte(docs[i%2]), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("document %d changed: %s", i, show(v))
		}
	}
}

// In steady state decoding line200 costs the map and little more: keys
// come from the cache, strings from an arena and boxes from slabs,
// each allocated once per many documents. (A Go map of more than 8
// entries is 4 allocations.)
func TestJSONDecoderAllocs(t *testing.T) {
	const extra = 1 // the "message" field, as parse_json asks
	var d jsonDecoder
	for range 300 { // fill the caches
		if _, err := d.decode(line200, true, extra); err != nil {
			t.Fatal(err)
		}
	}
	var sink map[string]any
	perMap := testing.AllocsPerRun(1000, func() { sink = make(map[string]any, 10+extra) })
	_ = sink
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := d.decode(line200, true, extra); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.2f allocations per document, %.0f of them the map's", allocs, perMap)
	if allocs > perMap+0.5 {
		t.Errorf("%.2f allocations per document, want at most the map's %.0f + 0.5", allocs, perMap)
	}
}

// The decoder keeps no part of a document alive once it is decoded: its
// caches hold copies, its values are in arenas of their own. A key met
// in the cache but at another position is the case to watch.
func TestJSONDecoderLetsGoOfDocument(t *testing.T) {
	var d jsonDecoder
	if _, err := d.decode(`{"a":1,"b":"x","c\n":[2]}`, true, 0); err != nil {
		t.Fatal(err)
	}
	freed := make(chan struct{})
	func() {
		doc := []byte(`{"c\n":[3],"b":"y","a":4,"new":"z"}`)
		runtime.AddCleanup(&doc[0], func(chan struct{}) { close(freed) }, freed)
		v, err := d.decode(unsafe.String(&doc[0], len(doc)), true, 0)
		if err != nil || len(v.(map[string]any)) != 4 {
			t.Fatal(v, err)
		}
	}()
	for range 10 {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(&d)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Error("the decoder keeps the document alive")
	runtime.KeepAlive(&d)
}

// A key met where the last document had one is read without scanning
// when its text and a closing quote are next: documents one after the
// other decode as encoding/json decodes each, whatever resembles the
// last document's keys.
func TestJSONDecoderKeysByPosition(t *testing.T) {
	for _, pair := range [][2]string{
		{`{"ab":1}`, `{"ab\"c":2}`},
		{`{"a\\":1}`, `{"a\\":2}`},
		{`{"a\\":1}`, `{"a\\\"":2}`},
		{`{"ab":1}`, `{"abc":2}`},
		{`{"ab":1}`, `{"a":2}`},
		{`{"ab":1}`, `{"ab`},
		{`{"ab":1}`, `{"ab"`},
		{`{"é":1,"x":2}`, `{"é":3,"x":4}`},
		{`{"\u00e9":1}`, `{"\u00e9":2,"é":3}`},
		{"{\"\xff\":1}", "{\"\xff\":2}"},
		{`{"a":1,"b":2}`, `{"b":1,"a":2}`},
		{`{"a":{"a":1}}`, `{"a":{"a":{"a":2}}}`},
	} {
		var d jsonDecoder
		if _, err := d.decode(pair[0], true, 0); err != nil {
			t.Fatalf("%s: %v", pair[0], err)
		}
		got, err := d.decode(pair[1], true, 0)
		var want any
		wantErr := json.Unmarshal([]byte(pair[1]), &want)
		if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s after %s: got %v, %v; encoding/json: %v, %v", pair[1], pair[0], got, err, want, wantErr)
		}
	}
}
