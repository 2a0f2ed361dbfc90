package scrape

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

// testTarget is a loop driven by hand (scrapeOnce, no goroutine) against
// an httptest server whose body the test sets before each scrape.
type testTarget struct {
	l    *loop
	addr string
	mu   sync.Mutex
	body string
}

func newTestTarget(t *testing.T, cfg Config) *testTarget {
	t.Helper()
	tt := &testTarget{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tt.mu.Lock()
		body := tt.body
		tt.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tt.addr = u.Host
	cfg.Job, cfg.Topic, cfg.Targets, cfg.Interval = "app", "metrics", []string{u.Host}, time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	for _, tg := range s.targets() {
		tt.l = newLoop(s, tg)
	}
	if tt.l == nil {
		t.Fatal("no target")
	}
	return tt
}

// scrape scrapes body at time ts and returns the WriteRequest's
// TimeSeries fields, raw, in the order they were written.
func (tt *testTarget) scrape(t *testing.T, body string, ts time.Time) [][]byte {
	t.Helper()
	tt.mu.Lock()
	tt.body = body
	tt.mu.Unlock()
	rec := tt.l.scrapeOnce(context.Background(), ts)
	out := splitSeries(t, rec.Body)
	tt.l.s.putOut(rec.Body)
	return out
}

// splitSeries cuts a WriteRequest into copies of its timeseries fields.
func splitSeries(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if b[0] != 0x0a {
			t.Fatalf("field tag %#x in WriteRequest", b[0])
		}
		n, k := uvarint(b[1:])
		end := 1 + k + int(n)
		if k <= 0 || end > len(b) {
			t.Fatalf("bad timeseries length")
		}
		out = append(out, bytes.Clone(b[:end]))
		b = b[end:]
	}
	return out
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

// refSeries is the reference encoding of one sample: prompb's own
// marshaling, framed as a WriteRequest timeseries field. Values and
// timestamps are never 0 in these tests, which proto3 would omit.
func refSeries(t *testing.T, ls labels.Labels, ts int64, v float64) []byte {
	t.Helper()
	var pl []prompb.Label
	ls.Range(func(l labels.Label) { pl = append(pl, prompb.Label{Name: l.Name, Value: l.Value}) })
	b, err := (&prompb.TimeSeries{Labels: pl, Samples: []prompb.Sample{{Value: v, Timestamp: ts}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b = append(appendUvarint([]byte{0x0a}, uint64(len(b))), b...)
	// The package's own encodeLabels must agree with prompb on labels.
	if el := encodeLabels(ls); !bytes.Contains(b, el) {
		t.Fatalf("encodeLabels(%v) disagrees with prompb", ls)
	}
	return b
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// reportSeries checks the 4 report series ending got, and returns the
// series before them.
func (tt *testTarget) reportSeries(t *testing.T, got [][]byte, ts int64, scraped, kept float64) [][]byte {
	t.Helper()
	if len(got) < 4 {
		t.Fatalf("%d series, want at least the 4 report series", len(got))
	}
	rep := got[len(got)-4:]
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(rep[1]); err != nil {
		t.Fatal(err)
	}
	dur := wr.Timeseries[0].Samples[0].Value // measured: taken as given
	for i, v := range []float64{1, dur, scraped, kept} {
		want := refSeries(t, tt.labels(reportNames[i]), ts, v)
		if !bytes.Equal(rep[i], want) {
			t.Errorf("report series %s:\n got %x\nwant %x", reportNames[i], rep[i], want)
		}
	}
	return got[:len(got)-4]
}

// labels are the target's labels plus name and the name/value pairs.
func (tt *testTarget) labels(name string, pairs ...string) labels.Labels {
	b := labels.NewScratchBuilder(8)
	b.Add(model.MetricNameLabel, name)
	b.Add("instance", tt.addr)
	b.Add("job", "app")
	b.Add("env", "prod")
	for i := 0; i < len(pairs); i += 2 {
		b.Add(pairs[i], pairs[i+1])
	}
	b.Sort()
	return b.Labels()
}

func sortedEqual(a, b [][]byte) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, bytes.Compare)
	slices.SortFunc(b, bytes.Compare)
	return slices.EqualFunc(a, b, bytes.Equal)
}

// TestEncodingIdentical checks that WriteRequests built from interned
// labels are byte for byte the reference encoding, with target labels,
// honor_labels conflicts, metric relabeling, label values long enough
// for multi-byte lengths, more than 128 pairs (multi-byte ids), and the
// staleness markers of vanished series, across compactions.
func TestEncodingIdentical(t *testing.T) {
	tt := newTestTarget(t, Config{
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, TargetLabel: "env", Replacement: "prod", Regex: relabel.MustNewRegexp("(.*)"), Separator: ";"},
		},
		MetricRelabelConfigs: []*relabel.Config{
			{Action: relabel.Drop, SourceLabels: []model.LabelName{"__name__"}, Regex: relabel.MustNewRegexp("drop_.*"), Separator: ";"},
		},
	})
	long := strings.Repeat("v", 200)
	type sample struct {
		line string
		ls   labels.Labels // empty: dropped
		v    float64
	}
	fixed := []sample{
		{`req{method="get",code="200"} 5`, tt.labels("req", "method", "get", "code", "200"), 5},
		{`req{method="get",code="500",empty=""} 2`, tt.labels("req", "method", "get", "code", "500"), 2},
		{`conflict{job="theirs",exported_job="e"} 3`, tt.labels("conflict", "exported_job", "e", "exported_exported_job", "theirs"), 3},
		{`drop_me{a="b"} 4`, labels.EmptyLabels(), 4},
		{`long{l="` + long + `"} 6`, tt.labels("long", "l", long), 6},
		{`temp -1.5`, tt.labels("temp"), -1.5},
	}
	many := func(from, to int) []sample {
		var out []sample
		for i := from; i < to; i++ {
			id := fmt.Sprint("/api/", i)
			out = append(out, sample{fmt.Sprintf(`many{handler=%q} %d`, id, i+1), tt.labels("many", "handler", id), float64(i + 1)})
		}
		return out
	}
	steps := [][]sample{
		append(slices.Clone(fixed), many(0, 300)...),
		append(slices.Clone(fixed), many(0, 300)...),
		append(slices.Clone(fixed[:3]), many(250, 400)...), // long, temp and many series vanish
		append(slices.Clone(fixed), many(390, 400)...),
	}
	var prev []sample
	for step, samples := range steps {
		ts := time.UnixMilli(1_700_000_000_000 + int64(step)*1000)
		var body strings.Builder
		kept := 0
		for _, s := range samples {
			body.WriteString(s.line + "\n")
			if s.ls.Len() > 0 {
				kept++
			}
		}
		got := tt.reportSeries(t, tt.scrape(t, body.String(), ts), ts.UnixMilli(), float64(len(samples)), float64(kept))
		var want [][]byte
		seen := map[string]bool{}
		for _, s := range samples {
			seen[s.line] = true
			if s.ls.Len() > 0 {
				want = append(want, refSeries(t, s.ls, ts.UnixMilli(), s.v))
			}
		}
		if len(got) < len(want) {
			t.Fatalf("step %d: %d series, want at least %d", step, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("step %d series %d:\n got %x\nwant %x", step, i, got[i], want[i])
			}
		}
		var stale [][]byte // in map order
		for _, s := range prev {
			if !seen[s.line] && s.ls.Len() > 0 {
				stale = append(stale, refSeries(t, s.ls, ts.UnixMilli(), math.Float64frombits(value.StaleNaN)))
			}
		}
		if !sortedEqual(got[len(want):], stale) {
			t.Fatalf("step %d: %d staleness markers, want %d, or they differ", step, len(got)-len(want), len(stale))
		}
		prev = samples
	}
}

// livePairs counts the distinct pairs the cached series refer to.
func livePairs(l *loop) int {
	live := map[uint32]bool{}
	for _, ent := range l.cache {
		ids := l.lbls.ids[ent.off:]
		var id uint32
		for left := int(ent.n); left > 0; left -= len(l.lbls.pair(id)) {
			id, ids = next(ids)
			live[id] = true
		}
	}
	return len(live)
}

// TestChurn scrapes a target whose series carry a label value that
// changes every scrape: its pair table and id arena must stay bounded
// by compaction, and every vanished series must still get its marker.
func TestChurn(t *testing.T) {
	const stable, churning, scrapes = 30, 20, 50
	tt := newTestTarget(t, Config{
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, TargetLabel: "env", Replacement: "prod", Regex: relabel.MustNewRegexp("(.*)"), Separator: ";"},
		},
	})
	stableLines := ""
	for i := range stable {
		stableLines += fmt.Sprintf("up_%d{code=\"200\"} 1\n", i)
	}
	churned := func(scrape, i int) string { return fmt.Sprintf("s%d-%d", scrape, i) }
	maxPairs, maxIDs, maxPairBytes := 0, 0, 0
	for n := range scrapes {
		ts := time.UnixMilli(1_700_000_000_000 + int64(n)*1000)
		body := stableLines
		for i := range churning {
			body += fmt.Sprintf("req{id=%q} 7\n", churned(n, i))
		}
		got := tt.reportSeries(t, tt.scrape(t, body, ts), ts.UnixMilli(), stable+churning, stable+churning)
		got = got[stable+churning:]
		var stale [][]byte
		for i := range churning * min(n, 1) {
			stale = append(stale, refSeries(t, tt.labels("req", "id", churned(n-1, i)), ts.UnixMilli(), math.Float64frombits(value.StaleNaN)))
		}
		if !sortedEqual(got, stale) {
			t.Fatalf("scrape %d: %d staleness markers, want %d, or they differ", n, len(got), len(stale))
		}
		if len(tt.l.cache) != stable+churning {
			t.Fatalf("scrape %d: %d series cached, want %d", n, len(tt.l.cache), stable+churning)
		}
		s := &tt.l.lbls
		maxPairs, maxIDs, maxPairBytes = max(maxPairs, s.npairs()), max(maxIDs, cap(s.ids)), max(maxPairBytes, cap(s.pairs))
	}
	// Live: env, instance, job, code="200" and __name__="req", 30 more
	// names, 20 ids.
	live := livePairs(tt.l)
	if live != 5+stable+churning {
		t.Errorf("%d live pairs, want %d", live, 5+stable+churning)
	}
	// Without compaction there would be 30+20*50 pairs, 5,000 ids bytes.
	if limit := 2*live + 64; maxPairs > limit {
		t.Errorf("pair table peaked at %d pairs, want <= %d", maxPairs, limit)
	}
	if limit := 2 * (stable + churning) * 5; maxIDs > limit+4096 {
		t.Errorf("id arena peaked at %d bytes, want <= %d", maxIDs, limit+4096)
	}
	if maxPairBytes > 8<<10 {
		t.Errorf("pair arena peaked at %d bytes, want <= 8 KiB", maxPairBytes)
	}
	// Compaction keeps exactly the pairs in use.
	tt.l.lbls.compact(tt.l.cache)
	if n := tt.l.lbls.npairs(); n != live || livePairs(tt.l) != live {
		t.Errorf("after compaction: %d pairs, %d of them live; want %d", n, livePairs(tt.l), live)
	}
}

// FuzzIntern checks that interned label sets expand to what
// encodeLabels gives, before and after compacting the store, whatever
// the labels.
func FuzzIntern(f *testing.F) {
	f.Add("a=1,b=2;a=1,b=3;c=", 0)
	f.Add(strings.Repeat("x=y,", 40)+";k="+strings.Repeat("v", 300), 1)
	f.Fuzz(func(t *testing.T, in string, forget int) {
		s := newLabelStore()
		cache := map[uint64]cacheEntry{}
		want := map[uint64][]byte{}
		for i, set := range strings.Split(in, ";") {
			b := labels.NewScratchBuilder(4)
			for j, kv := range strings.Split(set, ",") {
				k, v, _ := strings.Cut(kv, "=")
				b.Add(fmt.Sprint(k, j), v) // distinct names, as in a series
			}
			b.Sort()
			ls := b.Labels()
			off, n := s.intern(ls)
			cache[uint64(i)] = cacheEntry{off: off, n: n}
			want[uint64(i)] = encodeLabels(ls)
		}
		check := func(when string) {
			for k, ent := range cache {
				if got := s.appendLabels(nil, ent.off, ent.n); !bytes.Equal(got, want[k]) {
					t.Fatalf("%s: series %d expands to %x, want %x", when, k, got, want[k])
				}
			}
		}
		check("interned")
		if ent, ok := cache[uint64(forget)]; ok && len(cache) > 1 {
			s.forget(ent.off, ent.n)
			delete(cache, uint64(forget))
		}
		s.compact(cache)
		check("compacted")
		if s.holes != 0 || len(s.pairs) != int(s.offs[len(s.offs)-1]) {
			t.Fatalf("compacted store: %d holes, %d pair bytes, offsets end at %d", s.holes, len(s.pairs), s.offs[len(s.offs)-1])
		}
	})
}

// BenchmarkAddSeries compares encoding a cached series from its interned
// pairs with the single copy of its encoded labels it replaces, for the
// labels of `sluice bench agent --scrape`.
func BenchmarkAddSeries(b *testing.B) {
	l := &loop{cache: map[uint64]cacheEntry{}, lbls: newLabelStore()}
	var encoded [][]byte
	var ents []cacheEntry
	for i := range 1000 {
		ls := labels.FromStrings("__name__", fmt.Sprintf("app_metric_%d_total", i%10), "code", fmt.Sprint(200+i%5*100),
			"handler", fmt.Sprintf("/api/v1/items/%d", i/15), "instance", "127.0.0.1:41234", "job", "bench",
			"method", [...]string{"GET", "POST", "PUT"}[i%3], "pod", "pod-7")
		off, n := l.lbls.intern(ls)
		ents = append(ents, cacheEntry{off: off, n: n})
		encoded = append(encoded, encodeLabels(ls))
	}
	l.out = make([]byte, 0, 256<<10)
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			l.out = l.out[:0]
			for _, e := range encoded {
				l.add(e, 1_700_000_000_000, 1)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(encoded)), "ns/series")
	})
	b.Run("interned", func(b *testing.B) {
		for b.Loop() {
			l.out = l.out[:0]
			for _, ent := range ents {
				l.addSeries(ent, 1_700_000_000_000, 1)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ents)), "ns/series")
	})
}

// TestCacheEntrySize guards the 16 bytes a cached series costs in the
// loop's map beside its ids.
func TestCacheEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(cacheEntry{}); n != 16 {
		t.Errorf("cacheEntry is %d bytes, want 16", n)
	}
}
