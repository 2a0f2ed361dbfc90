package stdout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.FixedZone("CET", 3600))

func settings() component.Settings {
	return component.Settings{Name: "console", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.NewSet()}
}

func events() []*event.Event {
	log := event.NewLog("hello world", t0, map[string]string{"host": "a"})
	log.Set("level", "info")
	multi := event.NewLog("two\nlines", t0.Add(time.Second), nil)
	metric := &event.Event{Kind: event.KindMetric, Time: t0, Series: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: "200"}, {Name: "path", Value: `/a"b`}},
		Samples: []prompb.Sample{{Timestamp: 1767319445000, Value: 12}, {Timestamp: 1767319460000, Value: math.Inf(1)}},
	}, {
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}},
		Samples: []prompb.Sample{{Timestamp: 1767319445000, Value: 0.5}},
	}}}
	structured := event.NewLog("", t0, nil)
	structured.Set("message", 42.0)
	return []*event.Event{log, multi, metric, structured}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		format, want string
	}{{
		format: "", // text
		want: "2026-01-02T02:04:05Z hello world\n" +
			"2026-01-02T02:04:06Z two\nlines\n" +
			`2026-01-02T02:04:05Z http_requests_total{code="200",path="/a\"b"} 12` + "\n" +
			`2026-01-02T02:04:20Z http_requests_total{code="200",path="/a\"b"} +Inf` + "\n" +
			"2026-01-02T02:04:05Z up{} 0.5\n" +
			"2026-01-02T02:04:05Z 42\n",
	}, {
		format: "json",
		want: `{"timestamp":"2026-01-02T02:04:05.123Z","level":"info","message":"hello world","meta":{"host":"a"}}` + "\n" +
			`{"timestamp":"2026-01-02T02:04:06.123Z","message":"two\nlines"}` + "\n" +
			`{"timestamp":"2026-01-02T02:04:05.123Z","series":[{"labels":{"__name__":"http_requests_total","code":"200","path":"/a\"b"},"samples":[[1767319445000,12],[1767319460000,"+Inf"]]},{"labels":{"__name__":"up"},"samples":[[1767319445000,0.5]]}]}` + "\n" +
			`{"timestamp":"2026-01-02T02:04:05.123Z","message":42}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			set := settings()
			s, err := NewWriter(Config{Format: tt.format, Target: "stderr"}, set, &out)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the buffer is reused: the second batch prints the same
				out.Reset()
				if err := s.Write(context.Background(), events()); err != nil {
					t.Fatal(err)
				}
				if out.String() != tt.want {
					t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tt.want)
				}
			}
			want := `sluice_collector_sink_stdout_bytes_total{sink="console"} ` + strconv.Itoa(2*len(tt.want))
			var m bytes.Buffer
			set.Metrics.WritePrometheus(&m)
			if !strings.Contains(m.String(), want) {
				t.Fatalf("metrics:\n%s\nwant %s", m.String(), want)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteErrors(t *testing.T) {
	s, err := NewWriter(Config{}, settings(), failingWriter{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(context.Background(), events()[:1])
	if err == nil || err.Error() != "stdout sink console: write 1 events: file already closed" || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, events()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with an ended context: %v", err)
	}
	if err := s.Write(context.Background(), nil); err != nil {
		t.Fatalf("Write of nothing: %v (nothing to write, so the writer is not called)", err)
	}
}

func TestTargets(t *testing.T) {
	for target, want := range map[string]*os.File{"": os.Stdout, "stdout": os.Stdout, "stderr": os.Stderr} {
		s, err := New(Config{Target: target}, settings())
		if err != nil {
			t.Fatal(err)
		}
		if s.w != want {
			t.Errorf("target %q writes to %v", target, s.w)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Format: "json", Target: "stderr"}, ""},
		{Config{Format: "text", Target: "stdout"}, ""},
		{Config{Format: "yaml"}, `format: "yaml" is not a format (want text or json)`},
		{Config{Format: "yaml", Target: "file"}, `format: "yaml" is not a format (want text or json)` + "\n" +
			`target: "file" is not a target (want stdout or stderr)`},
	}
	for _, tt := range tests {
		var got []string
		for _, fe := range component.FieldErrors(tt.cfg.Validate()) {
			got = append(got, fe.Error())
		}
		if strings.Join(got, "\n") != tt.want {
			t.Errorf("Validate(%+v):\n%s\nwant:\n%s", tt.cfg, strings.Join(got, "\n"), tt.want)
		}
	}
	if _, err := New(Config{Target: "file"}, settings()); err == nil ||
		err.Error() != `stdout sink console: target: "file" is not a target (want stdout or stderr)` {
		t.Fatalf("New: %v", err)
	}
}
