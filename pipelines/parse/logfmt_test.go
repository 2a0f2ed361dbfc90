package parse

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
)

func TestDecodeLogfmt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any
		err  string
	}{
		{in: `level=info msg="request served" status=200 path=/a/b`,
			want: map[string]any{"level": "info", "msg": "request served", "status": "200", "path": "/a/b"}},
		{in: `  a=1   b=2  `, want: map[string]any{"a": "1", "b": "2"}},
		{in: "a=1\tb=2", want: map[string]any{"a": "1", "b": "2"}},
		{in: `bare a= b=""`, want: map[string]any{"bare": "", "a": "", "b": ""}},
		{in: `GET /index.html`, want: map[string]any{"GET": "", "/index.html": ""}},
		{in: `q="say \"hi\"\n\ttab \\ \/ \u00e9 \ud83d\ude00"`, want: map[string]any{"q": "say \"hi\"\n\ttab \\ / é 😀"}},
		{in: `q="lone \ud800 surrogate"`, want: map[string]any{"q": "lone \ufffd surrogate"}},
		{in: `a=1 a=2`, want: map[string]any{"a": "2"}},
		{in: `a="x"b=y`, want: map[string]any{"a": "x", "b": "y"}},
		{in: `k=v=w`, err: `logfmt: at byte 3: unexpected '=' in the value of k (quote values holding = or ")`},
		{in: `k=v"`, err: `logfmt: at byte 3: unexpected '"' in the value of k (quote values holding = or ")`},
		{in: `a=1 =2`, err: `logfmt: at byte 4: unexpected '=': a value without a key`},
		{in: `a"b=1`, err: `logfmt: at byte 1: unexpected '"' in a key`},
		{in: `a="open`, err: `logfmt: at byte 2: unterminated quoted value`},
		{in: `a="ends with \"`, err: `logfmt: at byte 2: unterminated quoted value`},
		{in: `a="\x"`, err: `logfmt: at byte 2: invalid quoted value: unknown escape \x`},
		{in: `a="\u12"`, err: `logfmt: at byte 2: invalid quoted value: invalid escape "\\u12"`},
		{in: "k\xff=v", err: `logfmt: at byte 0: key is not valid UTF-8`},
		{in: ``, want: map[string]any{}},
		{in: `ünï=cödé`, want: map[string]any{"ünï": "cödé"}},
	} {
		got, err := decodeLogfmt(tc.in, 0)
		switch {
		case tc.err != "":
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: got error %v, want %s", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case !equalValues(got, tc.want):
			t.Errorf("%q:\n got %s\nwant %s", tc.in, show(got), show(tc.want))
		}
	}
}

func TestParseLogfmt(t *testing.T) {
	line := `level=warn msg="disk almost full" used=93%`
	for _, tc := range []struct {
		cfg   LogfmtConfig
		cases []procCase
	}{
		{LogfmtConfig{}, []procCase{
			{name: "merge", in: map[string]any{"message": line, "host": "h1"},
				want: map[string]any{"message": line, "host": "h1", "level": "warn", "msg": "disk almost full", "used": "93%"}},
			{name: "parsed key replaces a field", in: map[string]any{"message": `host=h2`, "host": "h1"},
				want: map[string]any{"message": `host=h2`, "host": "h2"}},
			{name: "error keeps the event", in: msg(`a="`), want: msg(`a="`), failed: true},
		}},
		{LogfmtConfig{Common{Target: "kv", RemoveSource: true, OnError: "drop"}}, []procCase{
			{name: "under target", in: map[string]any{"message": line, "host": "h1"},
				want: map[string]any{"host": "h1", "kv": map[string]any{"level": "warn", "msg": "disk almost full", "used": "93%"}}},
			{name: "dropped", in: msg(`=`), want: nil, failed: true},
			{name: "missing field dropped", in: map[string]any{}, want: nil, failed: true},
		}},
	} {
		runCases(t, tc.cases, func(set component.Settings) (component.Processor, error) { return NewLogfmt(tc.cfg, set) })
	}
}
