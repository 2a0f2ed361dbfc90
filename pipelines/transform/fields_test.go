package transform

import (
	"testing"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name string
		cfg  SetConfig
		in   string
		meta []string
		want string
	}{
		{
			name: "constant and nested path",
			cfg:  SetConfig{Fields: map[string]string{"env": "prod", "http.version": "1.1"}},
			in:   `{"message":"m","http":{"status":200}}`,
			want: `{` + ts + `,"env":"prod","http":{"status":200,"version":"1.1"},"message":"m"}`,
		},
		{
			name: "templates of fields and meta",
			cfg: SetConfig{
				Fields: map[string]string{"origin": "{{ meta.host }}/{{service}}:{{ http.status }}"},
				Meta:   map[string]string{"svc": "{{ service }}", "fixed": "x"},
			},
			in:   `{"service":"api","http":{"status":404}}`,
			meta: []string{"host=h1"},
			want: `{` + ts + `,"http":{"status":404},"origin":"h1/api:404","service":"api","meta":{"fixed":"x","host":"h1","svc":"api"}}`,
		},
		{
			name: "one reference keeps the type; missing ones expand to empty",
			cfg:  SetConfig{Fields: map[string]string{"code": "{{ http.status }}", "none": "{{ nope }}", "t": "[{{ nope }}|{{ meta.nope }}]"}},
			in:   `{"http":{"status":500}}`,
			want: `{` + ts + `,"code":500,"http":{"status":500},"none":"","t":"[|]"}`,
		},
		{
			name: "values see the event as it was",
			cfg:  SetConfig{Fields: map[string]string{"a": "{{ b }}", "b": "{{ a }}"}},
			in:   `{"a":"A","b":"B"}`,
			want: `{` + ts + `,"a":"B","b":"A"}`,
		},
		{
			name: "copied maps are not shared",
			cfg:  SetConfig{Fields: map[string]string{"copy": "{{ obj }}", "obj.x": "changed"}},
			in:   `{"obj":{"x":"orig","l":[1,{"y":2}]}}`,
			want: `{` + ts + `,"copy":{"l":[1,{"y":2}],"x":"orig"},"obj":{"l":[1,{"y":2}],"x":"changed"}}`,
		},
		{
			name: "meta made when absent",
			cfg:  SetConfig{Meta: map[string]string{"k": "v"}},
			in:   `{}`,
			want: `{` + ts + `,"meta":{"k":"v"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewSet(tt.cfg, settings())
			if err != nil {
				t.Fatal(err)
			}
			got := encode(p.Process(withMetric(logEvent(t, tt.in, tt.meta...))))
			if want := tt.want + "\n" + metricJSON; got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		in     string
		want   string
	}{
		{"top level", map[string]string{"msg": "message"}, `{"msg":"m","x":1}`, `{` + ts + `,"message":"m","x":1}`},
		{"nested to top and back", map[string]string{"http.status": "status", "a": "b.c"}, `{"http":{"status":200},"a":true}`,
			`{` + ts + `,"b":{"c":true},"http":{},"status":200}`},
		{"absent is a no-op, target kept", map[string]string{"nope": "x"}, `{"x":1}`, `{` + ts + `,"x":1}`},
		{"present replaces target", map[string]string{"a": "x"}, `{"a":"A","x":1}`, `{` + ts + `,"x":"A"}`},
		{"swap", map[string]string{"a": "b", "b": "a"}, `{"a":1,"b":2}`, `{` + ts + `,"a":2,"b":1}`},
		{"top-level name with a dot", map[string]string{"a.b": "c"}, `{"a.b":1}`, `{` + ts + `,"c":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewRename(RenameConfig{Fields: tt.fields}, settings())
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

func TestRemove(t *testing.T) {
	tests := []struct {
		name string
		cfg  RemoveConfig
		in   string
		meta []string
		want string
	}{
		{"fields and meta", RemoveConfig{Fields: []string{"a", "b.c", "nope", "x.y.z"}, Meta: []string{"file", "nope"}},
			`{"a":1,"b":{"c":2,"d":3},"x":"s"}`, []string{"host=h", "file=f"},
			`{` + ts + `,"b":{"d":3},"x":"s","meta":{"host":"h"}}`},
		{"meta only, event without meta", RemoveConfig{Meta: []string{"host"}}, `{"a":1}`, nil, `{` + ts + `,"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewRemove(tt.cfg, settings())
			if err != nil {
				t.Fatal(err)
			}
			got := encode(p.Process(withMetric(logEvent(t, tt.in, tt.meta...))))
			if want := tt.want + "\n" + metricJSON; got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
