package file

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

func metricEvent() *event.Event {
	return &event.Event{Kind: event.KindMetric, Time: t0, Meta: map[string]string{"host": "h1"},
		Series: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "node"}, {Name: "path", Value: "a\"b\\c\nd"}},
				Samples: []prompb.Sample{{Value: 1, Timestamp: 1764324900000}, {Value: math.NaN(), Timestamp: 1764324915000}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "temp"}},
				Samples: []prompb.Sample{{Value: -2.5e-7, Timestamp: 1764324900000}, {Value: math.Inf(1), Timestamp: 1764324901000}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "lat"}, {Name: "le", Value: "x"}},
				Histograms: []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 7}, Sum: 1.5, Timestamp: 1764324902000}}},
		}}
}

func TestEncodings(t *testing.T) {
	logEv := &event.Event{Time: t0.Add(123 * time.Millisecond),
		Fields: event.FieldsOf(map[string]any{"message": "GET /\tok", "status": 200.0, "user": map[string]any{"id": "u1"}}),
		Meta:   map[string]string{"host": "h1", "file": "/var/log/a.log"}}
	multi := event.NewLog("line one\nline two", t0, nil)
	numeric := &event.Event{Time: t0, Fields: event.FieldsOf(map[string]any{"message": 42.0})}
	noMsg := &event.Event{Time: t0, Fields: event.FieldsOf(map[string]any{"a": "b"})}
	tests := []struct {
		name, encoding string
		events         []*event.Event
		want           string
	}{
		{"json log", "json", []*event.Event{logEv},
			`{"timestamp":"2026-11-28T10:15:00.123Z","message":"GET /\tok","status":200,"user":{"id":"u1"},"meta":{"file":"/var/log/a.log","host":"h1"}}` + "\n"},
		{"json metric", "", []*event.Event{metricEvent()},
			`{"timestamp":"2026-11-28T10:15:00Z","series":[{"labels":{"__name__":"up","job":"node","path":"a\"b\\c\nd"},"samples":[[1764324900000,1],[1764324915000,"NaN"]]},` +
				`{"labels":{"__name__":"temp"},"samples":[[1764324900000,-2.5e-07],[1764324901000,"+Inf"]]},{"labels":{"__name__":"lat","le":"x"},"samples":[]}],"meta":{"host":"h1"}}` + "\n"},
		{"text log", "text", []*event.Event{logEv, multi, numeric, noMsg},
			"GET /\tok\nline one\nline two\n42\n\n"},
		{"text metric", "text", []*event.Event{metricEvent()},
			`up{job="node",path="a\"b\\c\nd"} 1 1764324900000` + "\n" +
				`up{job="node",path="a\"b\\c\nd"} NaN 1764324915000` + "\n" +
				"temp -2.5e-07 1764324900000\n" +
				"temp +Inf 1764324901000\n" +
				`lat_count{le="x"} 7 1764324902000` + "\n" +
				`lat_sum{le="x"} 1.5 1764324902000` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.log")
			s := newTestSink(t, Config{Path: path, Encoding: tt.encoding}, &fakeClock{now: t0})
			mustWrite(t, s, tt.events...)
			if got := readString(t, path); got != tt.want {
				t.Errorf("file:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// resetGroups keeps the buffers of the first groups for the next Write
// while they hold keptBytes in all, and lets the others go.
func TestResetGroupsKeepsBoundedBuffers(t *testing.T) {
	s := &Sink{index: map[string]int{}}
	caps := []int{20 << 20, 8 << 20, 8 << 20, 1 << 20}
	for _, c := range caps {
		s.groups = append(s.groups, &group{buf: make([]byte, 10, c)})
	}
	s.resetGroups()
	var got []int
	for _, g := range s.groups[:len(caps)] {
		got = append(got, cap(g.buf))
		if len(g.buf) != 0 {
			t.Fatalf("a kept buffer holds %d bytes", len(g.buf))
		}
	}
	// 20+8 MiB fit in 32 MiB, a third 8 MiB would not; the 1 MiB after it does.
	if want := []int{20 << 20, 8 << 20, 0, 1 << 20}; !slices.Equal(got, want) {
		t.Fatalf("kept capacities %v, want %v", got, want)
	}
}
