package scrape

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"

	"github.com/sluicehq/sluice/agent/source"
)

// acceptHeader is what Prometheus sends: OpenMetrics preferred, then text.
const acceptHeader = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

var staleNaN = math.Float64frombits(value.StaleNaN)

// cacheEntry is a series seen on a target: where its final labels are in
// the loop's labelStore (n == 0 when metric relabeling dropped it) and
// the scrape it was last seen in. It holds no pointer, so 100,000 of them
// are one map's memory and nothing for the GC to scan; 16 bytes rather
// than 24 (seen is 32 bits) make that map a third smaller.
type cacheEntry struct {
	// off: where the series' pair ids start in the labelStore; n: the
	// length of its protobuf-encoded Label fields in a TimeSeries.
	off, n uint32
	seen   uint32 // a scrape number: only compared for equality, so wrapping is harmless
	// explicitTS: the target gave the sample's timestamp; as Prometheus
	// does, such a series gets no staleness marker (the target decides
	// its times, and a marker at scrape time could land before them).
	explicitTS bool
}

// loop scrapes one target. Only its own goroutine touches its fields.
type loop struct {
	s    *Scraper
	t    target
	stop chan struct{} // closed when the target leaves the set
	done chan struct{} // closed when the goroutine returned
	// buf holds the body of the scrape in progress, from s.bufs: targets
	// are spread over the interval, so a few buffers serve them all.
	buf  *bytes.Buffer
	iter uint32 // number of the current scrape (wraps after 2^32 scrapes)
	// cache is keyed by a hash of the raw series bytes rather than the
	// bytes themselves: at 1,000 series per target the keys would be a
	// third of the memory, and a 64-bit collision among one target's
	// series is not a practical concern.
	cache map[uint64]cacheEntry
	// lbls holds the labels of the cached series as interned pairs.
	lbls    labelStore
	seed    maphash.Seed
	out     []byte    // the WriteRequest being encoded
	lastLen int       // length of the previous body, to size the next one
	report  [4][]byte // up, duration, scraped, post relabeling
	syms    *labels.SymbolTable
	lset    labels.Labels
	lb      *labels.Builder
}

var reportNames = [4]string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling"}

func newLoop(s *Scraper, t target) *loop {
	l := &loop{s: s, t: t, stop: make(chan struct{}), done: make(chan struct{}),
		cache: make(map[uint64]cacheEntry), lbls: newLabelStore(), seed: maphash.MakeSeed(), syms: labels.NewSymbolTable(),
		lb: labels.NewBuilder(labels.EmptyLabels())}
	for i, n := range reportNames {
		l.lb.Reset(t.labels)
		l.lb.Set(model.MetricNameLabel, n)
		l.report[i] = encodeLabels(l.lb.Labels())
	}
	return l
}

// offset spreads targets over the interval by a hash of their identity,
// as Prometheus does, so 100 targets are not scraped in one burst.
func (l *loop) offset(now time.Time) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(l.t.id))
	iv := int64(l.s.cfg.Interval)
	base := now.UnixNano() % iv
	off := (int64(h.Sum64()%uint64(iv)) - base + iv) % iv
	return time.Duration(off)
}

func (l *loop) run(ctx context.Context, e source.Emitter) {
	defer close(l.done)
	timer := time.NewTimer(l.offset(time.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.stop:
			l.markAllStale(ctx, e)
			return
		case <-timer.C:
		}
		start := time.Now()
		rec := l.scrapeOnce(ctx, start)
		// Once the record is durable downstream its body is free again:
		// reusing it keeps 100 targets' bodies from being garbage every
		// interval.
		body := rec.Body
		if err := e.Emit(ctx, []source.Record{rec}, func(error) { l.s.putOut(body) }); err != nil {
			return // only ctx ending makes Emit fail
		}
		next := l.s.cfg.Interval - time.Since(start)%l.s.cfg.Interval
		timer.Reset(next)
	}
}

// scrapeOnce scrapes, parses and builds the record of one scrape.
func (l *loop) scrapeOnce(ctx context.Context, start time.Time) source.Record {
	l.iter++
	ts := start.UnixMilli()
	l.out = l.s.takeOut(l.lastLen + l.lastLen/8 + 256)
	l.buf = l.s.bufs.Get().(*bytes.Buffer)
	ct, err := l.fetch(ctx)
	scraped, kept := 0, 0
	if err == nil {
		scraped, kept, err = l.parse(ct, ts)
	}
	// Nothing refers to the body after parsing: labels were copied and
	// encoded, series bytes only hashed.
	l.buf.Reset()
	l.s.bufs.Put(l.buf)
	l.buf = nil
	up := 1.0
	if err != nil {
		up = 0
		l.s.m.errors.Inc()
		l.s.cfg.Logger.Debug("scrape", "source", l.s.cfg.Name, "target", l.t.url, "err", err)
		// A failed scrape has no series: drop the half-parsed ones and let
		// the previous scrape's series go stale.
		l.out = l.out[:0]
		scraped, kept = 0, 0
		for h, ent := range l.cache {
			if ent.seen == l.iter {
				ent.seen = l.iter - 1
				l.cache[h] = ent
			}
		}
	}
	l.appendStale(ts)
	dur := time.Since(start).Seconds()
	l.s.m.scrapes.Inc()
	l.s.m.duration.Update(dur)
	for i, v := range [4]float64{up, dur, float64(scraped), float64(kept)} {
		l.add(l.report[i], ts, v)
	}
	return l.record(start)
}

func (l *loop) fetch(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.t.url, nil)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", l.t.url, err)
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "sluice-agent")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(l.s.cfg.Timeout.Seconds(), 'f', -1, 64))
	if a := l.s.cfg.BasicAuth; a != nil {
		req.SetBasicAuth(a.Username, a.Password)
	}
	if tok := l.s.cfg.BearerToken; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := l.s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", l.t.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape %s: server returned HTTP status %s", l.t.url, resp.Status)
	}
	l.buf.Reset()
	n, err := l.buf.ReadFrom(io.LimitReader(resp.Body, l.s.cfg.MaxBodyBytes+1))
	if err != nil {
		return "", fmt.Errorf("scrape %s: read body: %w", l.t.url, err)
	}
	if n > l.s.cfg.MaxBodyBytes {
		return "", fmt.Errorf("scrape %s: body exceeds %d bytes", l.t.url, l.s.cfg.MaxBodyBytes)
	}
	return resp.Header.Get("Content-Type"), nil
}

// parse appends the scraped series; it returns how many samples were
// scraped and how many survived metric relabeling.
func (l *loop) parse(contentType string, ts int64) (scraped, kept int, err error) {
	p, err := textparse.New(l.buf.Bytes(), contentType, l.syms, textparse.ParserOptions{
		IgnoreNativeHistograms: true, FallbackContentType: "text/plain",
	})
	if p == nil {
		return 0, 0, fmt.Errorf("scrape %s: content-type %q: %w", l.t.url, contentType, err)
	}
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			return scraped, kept, nil
		}
		if err != nil {
			return scraped, kept, fmt.Errorf("parse scrape of %s: %w", l.t.url, err)
		}
		if et != textparse.EntrySeries {
			continue // metadata, and native histograms (ignored)
		}
		met, tp, v := p.Series()
		scraped++
		h := maphash.Bytes(l.seed, met)
		ent, ok := l.cache[h]
		if !ok {
			p.Labels(&l.lset)
			ent = l.remember()
		}
		if ent.seen == l.iter {
			continue // a duplicate series in one scrape: keep the first
		}
		ent.seen = l.iter
		ent.explicitTS = tp != nil
		l.cache[h] = ent
		if ent.n == 0 {
			continue
		}
		kept++
		t := ts
		if tp != nil {
			t = *tp
		}
		l.addSeries(ent, t, v)
	}
}

// sampleLabels merges l.lset with the target labels (honor_labels
// semantics) and applies metric relabeling; false means dropped.
func (l *loop) sampleLabels() (labels.Labels, bool) {
	lb := l.lb
	lb.Reset(l.lset)
	honor := l.s.cfg.HonorLabels
	l.t.labels.Range(func(tl labels.Label) {
		sv := lb.Get(tl.Name)
		switch {
		case sv == "":
			lb.Set(tl.Name, tl.Value)
		case honor:
		default:
			name := tl.Name
			for {
				name = model.ExportedLabelPrefix + name
				if lb.Get(name) == "" {
					break
				}
			}
			lb.Set(name, sv)
			lb.Set(tl.Name, tl.Value)
		}
	})
	if !relabel.ProcessBuilder(lb, l.s.metricRelabel...) {
		return labels.EmptyLabels(), false
	}
	ls := lb.Labels()
	return ls, ls.Get(model.MetricNameLabel) != ""
}

// add encodes one TimeSeries of one sample into l.out:
//
//	WriteRequest.timeseries (1): TimeSeries{labels (1)..., samples (2): Sample{value (1) double, timestamp (2) varint}}
func (l *loop) add(ls []byte, t int64, v float64) {
	sampleLen := 1 + 8 + 1 + uvarintLen(uint64(t))
	tsLen := len(ls) + 1 + uvarintLen(uint64(sampleLen)) + sampleLen
	b := append(l.out, 0x0a)
	b = binary.AppendUvarint(b, uint64(tsLen))
	b = append(b, ls...)
	l.out = appendSample(b, sampleLen, t, v)
}

// addSeries is add for a cached series, whose labels it expands from
// their interned pairs.
func (l *loop) addSeries(ent cacheEntry, t int64, v float64) {
	sampleLen := 1 + 8 + 1 + uvarintLen(uint64(t))
	tsLen := int(ent.n) + 1 + uvarintLen(uint64(sampleLen)) + sampleLen
	// Growing once up front spares appendLabels and the sample any
	// reallocation.
	b := slices.Grow(l.out, 1+uvarintLen(uint64(tsLen))+tsLen+pad)
	b = append(b, 0x0a)
	b = binary.AppendUvarint(b, uint64(tsLen))
	b = l.lbls.appendLabels(b, ent.off, ent.n)
	l.out = appendSample(b, sampleLen, t, v)
}

// appendSample appends the samples field (2) of a TimeSeries.
func appendSample(b []byte, sampleLen int, t int64, v float64) []byte {
	b = append(b, 0x12)
	b = binary.AppendUvarint(b, uint64(sampleLen))
	b = append(b, 0x09)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	b = append(b, 0x10)
	return binary.AppendUvarint(b, uint64(t))
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// appendStale adds a staleness marker for every series of the previous
// scrape missing from this one, and forgets series not seen since.
func (l *loop) appendStale(ts int64) {
	for k, ent := range l.cache {
		if ent.seen == l.iter {
			continue
		}
		if ent.n == 0 {
			delete(l.cache, k)
			continue
		}
		if ent.seen == l.iter-1 && !ent.explicitTS {
			l.addSeries(ent, ts, staleNaN)
		}
		l.lbls.forget(ent.off, ent.n)
		delete(l.cache, k)
	}
	if l.lbls.needsCompact() {
		l.lbls.compact(l.cache)
	}
}

// remember builds a new series' final labels from l.lset and interns
// them; n == 0 if metric relabeling dropped the series.
func (l *loop) remember() cacheEntry {
	ls, ok := l.sampleLabels()
	if !ok {
		return cacheEntry{}
	}
	off, n := l.lbls.intern(ls)
	return cacheEntry{off: off, n: n}
}

// markAllStale emits staleness markers for every series of the last
// scrape, the synthetic ones too: the target is gone.
func (l *loop) markAllStale(ctx context.Context, e source.Emitter) {
	if l.iter == 0 {
		return
	}
	now := time.Now()
	l.out = make([]byte, 0, l.lastLen+256)
	l.iter++
	l.appendStale(now.UnixMilli())
	for _, r := range l.report {
		l.add(r, now.UnixMilli(), staleNaN)
	}
	_ = e.Emit(ctx, []source.Record{l.record(now)}, nil) // fails only when ctx ended
}

// record wraps the encoded WriteRequest. The emitter owns the body once
// Emit returns, until it acknowledges the record.
func (l *loop) record(now time.Time) source.Record {
	body := l.out
	l.out, l.lastLen = nil, len(body)
	return source.Record{
		Topic: l.s.cfg.Topic, Key: l.t.key, Body: body, Time: now,
		Properties: map[string]string{source.PropContentType: source.ContentTypeWriteRequest, source.PropSource: l.s.cfg.Name},
	}
}

// encodeLabels encodes ls as the Label fields (1) of a TimeSeries,
// skipping empty values.
func encodeLabels(ls labels.Labels) []byte {
	size := 0
	ls.Range(func(lb labels.Label) {
		if lb.Value != "" {
			n := labelLen(lb)
			size += 1 + uvarintLen(uint64(n)) + n
		}
	})
	b := make([]byte, 0, size) // exact: one series' labels live as long as the series
	ls.Range(func(lb labels.Label) {
		if lb.Value == "" {
			return
		}
		n := labelLen(lb)
		b = append(b, 0x0a)
		b = binary.AppendUvarint(b, uint64(n))
		b = append(b, 0x0a)
		b = binary.AppendUvarint(b, uint64(len(lb.Name)))
		b = append(b, lb.Name...)
		b = append(b, 0x12)
		b = binary.AppendUvarint(b, uint64(len(lb.Value)))
		b = append(b, lb.Value...)
	})
	return b
}

func labelLen(lb labels.Label) int {
	return 1 + uvarintLen(uint64(len(lb.Name))) + len(lb.Name) + 1 + uvarintLen(uint64(len(lb.Value))) + len(lb.Value)
}
