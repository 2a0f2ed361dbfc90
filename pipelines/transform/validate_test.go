package transform

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
)

// validator is every XxxConfig.
type validator interface{ Validate() error }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  validator
		want string // "" for valid
	}{
		{"set ok", &SetConfig{Fields: map[string]string{"a.b": "{{ meta.host }}"}}, ""},
		{"set empty", &SetConfig{}, `fields: nothing to set: name at least one field or meta key`},
		{"set bad", &SetConfig{Fields: map[string]string{"a..b": "x", "c": "{{ x", "d": "{{ }}", "e": "{{ a b }}"}, Meta: map[string]string{"": "x", "k": "{{"}},
			`fields: field path "a..b" has an empty part: want names joined by single dots (http.status)` + "\n" +
				`fields.c: "{{ x": "{{" is not closed by "}}"` + "\n" +
				`fields.d: "{{ }}": "{{ }}" names nothing: want {{ field.path }} or {{ meta.key }}` + "\n" +
				`fields.e: "{{ a b }}": {{ a b }} is not a field path or meta.key` + "\n" +
				`meta: empty meta key` + "\n" +
				`meta.k: "{{": "{{" is not closed by "}}"`},

		{"rename ok", &RenameConfig{Fields: map[string]string{"a": "b", "b": "a"}}, ""},
		{"rename empty", &RenameConfig{}, `fields: nothing to rename: map at least one old path to a new one`},
		{"rename bad", &RenameConfig{Fields: map[string]string{"": "x", "a": "", "b": "b", "c": "z", "d": "z"}},
			`fields: empty field path` + "\n" +
				`fields.a: empty field path` + "\n" +
				`fields.b: renames "b" to itself` + "\n" +
				`fields.d: renames to "z", as c does: want one field per new path`},

		{"remove ok", &RemoveConfig{Meta: []string{"file"}}, ""},
		{"remove empty", &RemoveConfig{}, `fields: nothing to remove: name at least one field or meta key`},
		{"remove bad", &RemoveConfig{Fields: []string{"a", ".b"}, Meta: []string{""}},
			`fields[1]: field path ".b" has an empty part: want names joined by single dots (http.status)` + "\n" +
				`meta[0]: empty meta key`},

		{"redact ok", &RedactConfig{Presets: []string{"email"}}, ""},
		{"redact empty", &RedactConfig{}, `patterns: nothing to redact: give patterns or presets (bearer_token, credit_card, email, ipv4)`},
		{"redact bad", &RedactConfig{Fields: []string{""}, Patterns: []string{`ok`, `a(b`, `x`, `[z`}, Presets: []string{"email", "phone"}},
			`fields[0]: empty field path` + "\n" +
				`patterns[1]: "a(b" is not an RE2 regular expression: missing closing )` + "\n" +
				`patterns[3]: "[z" is not an RE2 regular expression: missing closing ]` + "\n" +
				`presets[1]: "phone" is not a preset (known: bearer_token, credit_card, email, ipv4)`},

		{"filter ok", &FilterConfig{DropIf: `level == "debug"`}, ""},
		{"filter none", &FilterConfig{}, `condition: no expression: set condition (keep events where it is true) or drop_if (drop events where it is true)`},
		{"filter both", &FilterConfig{Condition: "true", DropIf: "false"}, `drop_if: set condition or drop_if, not both`},
		{"filter syntax", &FilterConfig{Condition: `level = "debug"`},
			`condition: "level = \"debug\"" does not compile: unexpected token Operator("=") (at column 7)`},
		{"filter type", &FilterConfig{DropIf: `kind + 1 > 2`},
			`drop_if: "kind + 1 > 2" does not compile: invalid operation: + (mismatched types string and int) (at column 6)`},
		{"filter not bool", &FilterConfig{Condition: `message`},
			`condition: "message" does not compile: expected bool, but got string`},

		{"route ok", &RouteConfig{Routes: []Route{{Condition: "true", To: []string{"a"}}}, Mode: "all", Default: []string{"b"}}, ""},
		{"route empty", &RouteConfig{}, `routes: no routes: give at least one {condition, to}`},
		{"route bad", &RouteConfig{Mode: "any", Default: []string{""}, Routes: []Route{
			{To: []string{"a"}}, {Condition: "level ==", To: []string{"a", ""}}, {Condition: "true"},
		}},
			`mode: "any" is not first or all` + "\n" +
				`routes[0].condition: no condition: want an expression such as level == "error"` + "\n" +
				`routes[1].condition: "level ==" does not compile: unexpected token EOF (at column 8)` + "\n" +
				`routes[1].to[1]: empty sink name` + "\n" +
				`routes[2].to: name at least one sink` + "\n" +
				`default[0]: empty sink name`},
		{"route all too many", &RouteConfig{Mode: "all", Routes: manyRoutes(65)}, `routes: 65 routes: mode all takes at most 64`},
		{"route first many", &RouteConfig{Routes: manyRoutes(65)}, ``},

		{"sample ok", &SampleConfig{Rate: 10, Key: "user.id", Exclude: `level == "error"`}, ""},
		{"sample empty", &SampleConfig{}, `rate: 0: want an integer >= 1 (keep 1 event in rate)`},
		{"sample bad", &SampleConfig{Rate: -1, Key: "a.", Exclude: "(("},
			`rate: -1: want an integer >= 1 (keep 1 event in rate)` + "\n" +
				`key: field path "a." has an empty part: want names joined by single dots (http.status)` + "\n" +
				`exclude: "((" does not compile: unexpected token EOF (at column 2)`},

		{"throttle ok", &ThrottleConfig{Limit: 1, Window: config.Duration(time.Minute), Key: "{{ meta.host }}", MaxKeys: 5}, ""},
		{"throttle empty", &ThrottleConfig{}, `limit: 0: want the number of events per window, >= 1`},
		{"throttle bad", &ThrottleConfig{Limit: 1, Window: config.Duration(-time.Second), Key: "{{ a", MaxKeys: -1},
			`window: -1s is negative: want a duration such as 1s or 1m` + "\n" +
				`max_keys: -1 is negative: want the number of keys to track (default 10000)` + "\n" +
				`key: "{{ a": "{{" is not closed by "}}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errText(tt.cfg.Validate()); got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func manyRoutes(n int) []Route {
	routes := make([]Route, n)
	for i := range routes {
		routes[i] = Route{Condition: "true", To: []string{"a"}}
	}
	return routes
}

// TestNewValidates checks that the constructors refuse what Validate
// refuses.
func TestNewValidates(t *testing.T) {
	set := settings()
	errs := []error{}
	_, err := NewSet(SetConfig{}, set)
	errs = append(errs, err)
	_, err = NewRename(RenameConfig{}, set)
	errs = append(errs, err)
	_, err = NewRemove(RemoveConfig{}, set)
	errs = append(errs, err)
	_, err = NewRedact(RedactConfig{}, set)
	errs = append(errs, err)
	_, err = NewFilter(FilterConfig{}, set)
	errs = append(errs, err)
	_, err = NewRoute(RouteConfig{}, set)
	errs = append(errs, err)
	_, err = NewSample(SampleConfig{}, set)
	errs = append(errs, err)
	_, err = NewThrottle(ThrottleConfig{}, set)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("constructor %d accepted an empty config", i)
		}
	}
}
