package transform

import (
	"testing"
)

func TestRedact(t *testing.T) {
	empty := ""
	hash := "<$1>"
	tests := []struct {
		name string
		cfg  RedactConfig
		in   string
		want string
	}{
		{"pattern on message by default", RedactConfig{Patterns: []string{`password=\S+`}},
			`{"message":"login password=hunter2 ok","password":"password=x"}`,
			`{` + ts + `,"message":"login *** ok","password":"password=x"}`},
		{"several fields, non-strings and absent skipped", RedactConfig{Fields: []string{"a", "b.c", "n", "nope"}, Patterns: []string{`[0-9]+`}},
			`{"a":"x1y22","b":{"c":"333"},"n":42,"message":"4"}`,
			`{` + ts + `,"a":"x***y***","b":{"c":"***"},"message":"4","n":42}`},
		{"replacement is literal", RedactConfig{Patterns: []string{`(s)ecret`}, Replacement: &hash},
			`{"message":"a secret"}`, `{` + ts + `,"message":"a <$1>"}`},
		{"empty replacement deletes", RedactConfig{Patterns: []string{`x`}, Replacement: &empty},
			`{"message":"axbxc"}`, `{` + ts + `,"message":"abc"}`},
		{"email", RedactConfig{Presets: []string{"email"}},
			`{"message":"from bob.smith+tag@mail.example.co.uk to x@y"}`,
			`{` + ts + `,"message":"from *** to x@y"}`},
		{"ipv4", RedactConfig{Presets: []string{"ipv4"}},
			`{"message":"10.0.0.1 -> 192.168.255.254:80, not 256.1.1.1 or 1.2.3"}`,
			`{` + ts + `,"message":"*** -> ***:80, not 256.1.1.1 or 1.2.3"}`},
		{"credit_card needs the Luhn check", RedactConfig{Presets: []string{"credit_card"}},
			`{"message":"card 4111 1111 1111 1111, 4111-1111-1111-1111 or 4111111111111111; order 4111111111111112"}`,
			`{` + ts + `,"message":"card ***, *** or ***; order 4111111111111112"}`},
		{"bearer_token keeps the scheme", RedactConfig{Presets: []string{"bearer_token"}, Replacement: &hash},
			`{"message":"Authorization: Bearer eyJhbGci.eyJzdWIi.SflKx== next; bearer abc"}`,
			`{` + ts + `,"message":"Authorization: Bearer <$1> next; bearer <$1>"}`},
		{"patterns and presets in order", RedactConfig{Patterns: []string{`user=\w+`}, Presets: []string{"ipv4"}},
			`{"message":"user=ann from 1.2.3.4"}`, `{` + ts + `,"message":"*** from ***"}`},
		{"no match leaves the field", RedactConfig{Patterns: []string{`zzz`}},
			`{"message":"abc"}`, `{` + ts + `,"message":"abc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewRedact(tt.cfg, settings())
			if err != nil {
				t.Fatal(err)
			}
			got := encode(p.Process(withMetric(logEvent(t, tt.in))))
			if want := tt.want + "\n" + metricJSON; got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111":    true,
		"4111 1111 1111 1111": true,
		"5500005555555559":    true,
		"378282246310005":     true,
		"4111111111111112":    false,
		"1234567890123":       false,
		"":                    false,
	} {
		if got := luhn(s); got != want {
			t.Errorf("luhn(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzRedact checks that redact never panics and that what a preset
// matches is gone from its output.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"a@b.co", "1.2.3.4", "4111 1111 1111 1111", "Bearer x.y", "", "\xff@\xfe.com"} {
		f.Add(s)
	}
	p, err := NewRedact(RedactConfig{Presets: []string{"email", "ipv4", "bearer_token"}, Patterns: []string{`secret`}}, settings())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := p.redact(s)
		for _, name := range []string{"email", "ipv4"} {
			if m := redactPresets[name].re.FindString(out); m != "" && !redactPresets[name].re.MatchString(s) {
				t.Errorf("redact(%q) = %q: made a new %s match %q", s, out, name, m)
			}
		}
	})
}
