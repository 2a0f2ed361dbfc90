package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseBroker(t *testing.T) {
	t.Setenv("SLUICE_TEST_PORT", "7700")
	src := `
broker:
  listen: 127.0.0.1:${SLUICE_TEST_PORT}
  http_listen: ${SLUICE_TEST_UNSET:-127.0.0.1:7701}
  data_dir: ./data/broker
  flush: async
  flush_interval: 50ms
  retention: {max_age: 3d, max_size: 50GiB}
  auto_create_topics: false
  default_queues: 4
agent:
  sources: {any: {type: file, include: ["/var/log/*.log"], topic: logs}}
`
	f, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	b := f.Broker
	if b.Listen != "127.0.0.1:7700" || b.HTTPListen != "127.0.0.1:7701" || b.Flush != "async" ||
		b.FlushInterval.D() != 50*time.Millisecond || b.Retention.MaxAge.D() != 72*time.Hour ||
		b.Retention.MaxSize != 50<<30 || b.AutoCreateTopics == nil || *b.AutoCreateTopics || b.DefaultQueues != 4 {
		t.Fatalf("parsed %+v", *b)
	}
	if f.Agent == nil {
		t.Fatal("agent section lost")
	}
	if pos := f.PosOf("broker.retention.max_size"); pos.Line != 8 {
		t.Fatalf("position of max_size: %v, want line 8", pos)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "broker:\n"} {
		f, err := Parse("e.yaml", []byte(src))
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		if f.Broker != nil {
			t.Fatalf("parse %q: broker section %+v, want none", src, f.Broker)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown top key", "brokr: {}\n",
			[]string{`bad.yaml:1:1: unknown key "brokr" in the top level (known: agent, broker, collector)`}},
		{"unknown nested key", "broker:\n  retention: {max_agee: 1h}\n",
			[]string{`bad.yaml:2:15: unknown key "max_agee" in broker.retention (known: max_age, max_size)`}},
		{"wrong type", "broker:\n  default_queues: many\n",
			[]string{`bad.yaml:2:19: broker.default_queues: want an integer, got "many"`}},
		{"bad duration", "broker:\n  flush_interval: soon\n",
			[]string{`bad.yaml:2:19: broker.flush_interval: invalid duration "soon" (want e.g. 500ms, 15s, 72h, 7d)`}},
		{"bad size", "broker:\n  retention:\n    max_size: lots\n",
			[]string{`bad.yaml:3:15: broker.retention.max_size: invalid size "lots" (want e.g. 512, 64KiB, 64MiB, 50GiB)`}},
		{"bool", "broker:\n  auto_create_topics: yes please\n",
			[]string{`bad.yaml:2:23: broker.auto_create_topics: want true or false, got "yes please"`}},
		{"list for scalar", "broker:\n  listen: [a, b]\n",
			[]string{`bad.yaml:2:11: broker.listen: want a single value, got a list`}},
		{"validation", "broker:\n  flush: sometimes\n  default_queues: 5000\n",
			[]string{`bad.yaml:2:10: flush: "sometimes" is not sync or async`,
				`bad.yaml:3:19: default_queues: 5000 is not between 1 and 1024`}},
		{"bad address", "broker:\n  listen: nowhere\n",
			[]string{`bad.yaml:2:11: listen: "nowhere" is not host:port`}},
		{"unset env", "broker:\n  data_dir: ${SLUICE_TEST_NOT_SET}\n",
			[]string{`bad.yaml:2:13: environment variable SLUICE_TEST_NOT_SET is not set (use ${SLUICE_TEST_NOT_SET:-default} for a default)`}},
		{"repeated key", "broker:\n  flush: sync\n  flush: async\n",
			[]string{`bad.yaml:3:3: broker: key "flush" repeated`}},
		{"syntax", "broker:\n  listen: [\n",
			[]string{`bad.yaml:2:1: did not find expected node content`}},
		{"two errors at once", "broker:\n  bogus: 1\n  default_queues: x\n",
			[]string{`bad.yaml:2:3: unknown key "bogus"`, `bad.yaml:3:19: broker.default_queues: want an integer`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d of them:\n%s", err, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	sizes := map[string]int64{"0": 0, "512": 512, "64KiB": 64 << 10, "64MiB": 64 << 20, "1.5GiB": 3 << 29, "1GB": 1e9, "10 MB": 10e6, "7B": 7}
	for s, want := range sizes {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "1XB", "MiB", "1e300GiB"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) succeeded", s)
		}
	}
	durs := map[string]time.Duration{"15s": 15 * time.Second, "72h": 72 * time.Hour, "7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute}
	for s, want := range durs {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "-d", "3 days", "99999999999999d"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", s)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte("broker:\n  flush: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:10: ") {
		t.Fatalf("load error %v, want one at %s:2:10", err, path)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("loading a missing file succeeded")
	}
}

// TestUnknownKeyInLibraryType: types that decode themselves (relabel
// rules) still have their keys checked.
func TestUnknownKeyInLibraryType(t *testing.T) {
	src := "agent:\n  sources:\n    s:\n      type: prometheus_scrape\n      topic: m\n      targets: [a:1]\n      metric_relabel_configs:\n        - {source_labels: [a], target: b}\n"
	_, err := Parse("r.yaml", []byte(src))
	if err == nil || !strings.HasPrefix(err.Error(), `r.yaml:8:32: unknown key "target" in agent.sources.s.metric_relabel_configs[0] (known: action, modulus, regex, replacement, separator, source_labels, target_label)`) {
		t.Fatalf("got %v", err)
	}
}
