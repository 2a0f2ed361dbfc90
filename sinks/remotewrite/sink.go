package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// The request headers of each protocol, from the specs.
const (
	contentTypeV1 = "application/x-protobuf"
	contentTypeV2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	versionV1     = "0.1.0"
	versionV2     = "2.0.0"
)

// Sink sends metric events to a Prometheus remote write receiver.
type Sink struct {
	cfg         Config
	url         string // cfg.URL, what requests go to
	redacted    string // the URL without a password, for errors and logs
	contentType string
	version     string
	userAgent   string
	client      *httpclient.Client
	backoff     component.Backoff
	logger      *slog.Logger
	name        string
	metrics     *metrics.Set

	// batch is the Write's state, reused: Write is not called concurrently.
	batch *batch

	sent     *metrics.Counter
	retries  *metrics.Counter
	duration *metrics.Histogram
	dropped  map[string]*metrics.Counter // by reason
	codesMu  sync.Mutex
	codes    map[int]*metrics.Counter
}

// New returns a sink sending to cfg.URL; cfg must have passed Validate.
func New(cfg Config, set component.Settings) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus_remote_write sink %s: %w", set.Name, err)
	}
	cfg = cfg.withDefaults()
	client, err := httpclient.New(cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("prometheus_remote_write sink %s: %w", set.Name, err)
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	s := &Sink{
		cfg: cfg, url: cfg.URL, redacted: u.Redacted(),
		contentType: contentTypeV1, version: versionV1, userAgent: userAgent(),
		client:  client,
		backoff: component.Backoff{Initial: cfg.Retry.InitialBackoff.D(), Max: cfg.Retry.MaxBackoff.D()},
		logger:  set.Logger, name: set.Name, metrics: set.Metrics,
		batch: newBatch(cfg.Shards),
		codes: map[int]*metrics.Counter{}, dropped: map[string]*metrics.Counter{},
	}
	if cfg.Protocol == ProtocolV2 {
		s.contentType, s.version = contentTypeV2, versionV2
	}
	sink := component.Label(set.Name)
	s.sent = set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_samples_sent_total{sink="%s"}`, sink))
	s.retries = set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_retries_total{sink="%s"}`, sink))
	s.duration = set.Metrics.GetOrCreateHistogram(fmt.Sprintf(`sluice_collector_sink_request_duration_seconds{sink="%s"}`, sink))
	for _, r := range []string{reasonNotMetrics, reasonNoName, reasonDuplicate, reasonDupTime, reason4xx, reasonNotWritten} {
		s.dropped[r] = set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_dropped_total{sink="%s",reason="%s"}`, sink, r))
	}
	return s, nil
}

// userAgent is sluice/<version of the main module>, or sluice/dev for a
// build from a checkout.
func userAgent() string {
	v := "dev"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	return "sluice/" + v
}

// Write sends the series of the metric events and returns nil once the
// receiver accepted every request, or refused some with a 4xx (dropped,
// counted); log events are dropped and counted. Shards send in parallel,
// each its requests one after the other; the first shard to give up
// stops the others, and Write returns its error.
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	b := s.batch
	defer b.reset()
	b.add(events)
	s.dropped[reasonNotMetrics].Add(b.dropNotMetrics)
	s.dropped[reasonNoName].Add(b.dropNoName)
	s.dropped[reasonDuplicate].Add(b.dropDuplicate)
	if b.dropNoName+b.dropDuplicate > 0 {
		s.logger.Warn("remote write: dropped series with no __name__ or a label name twice",
			"sink", s.name, "no_name_samples", b.dropNoName, "duplicate_label_samples", b.dropDuplicate)
	}
	var active []int
	for i := range b.shards {
		if len(b.shards[i].series) > 0 || s.sendsMetadata(i) {
			active = append(active, i)
		}
	}
	switch len(active) {
	case 0:
		return nil
	case 1:
		return s.wrap(ctx, s.sendShard(ctx, active[0]))
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(active))
	var wg sync.WaitGroup
	for j, i := range active {
		wg.Go(func() {
			if err := s.sendShard(sctx, i); err != nil {
				errs[j] = err
				cancel()
			}
		})
	}
	wg.Wait()
	// The error of the shard that gave up, not the others' "canceled".
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return s.wrap(ctx, err)
		}
	}
	return s.wrap(ctx, errors.Join(errs...))
}

// wrap says where an error of a Write happened; ctx ending is returned
// as ctx's error.
func (s *Sink) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("remote write to %s: %w", s.redacted, err)
}

// sendsMetadata tells whether shard i carries the batch's metadata: with
// v1 the first shard sends it in its first request (v2 puts it on
// every series instead).
func (s *Sink) sendsMetadata(i int) bool {
	return i == 0 && s.cfg.Protocol == ProtocolV1 && len(s.batch.metaList) > 0
}

// sendShard sends shard i's series, request after request, in the
// shard's goroutine.
func (s *Sink) sendShard(ctx context.Context, i int) error {
	sh := &s.batch.shards[i]
	if dups := sh.gather(s.batch.frags); dups > 0 {
		s.dropped[reasonDupTime].Add(dups)
	}
	meta := s.sendsMetadata(i)
	var cur cursor
	for {
		var n counts
		sh.enc.chunks, n = sh.next(&cur, s.cfg.MaxSamplesPerRequest, sh.enc.chunks[:0])
		if n.total() == 0 && !meta {
			return nil
		}
		var body []byte
		var err error
		if s.cfg.Protocol == ProtocolV2 {
			body, err = sh.enc.encodeV2(sh.enc.chunks, s.batch.metadata)
		} else {
			var md []prompb.MetricMetadata
			if meta {
				md = s.batch.metaList
			}
			body, err = sh.enc.encodeV1(sh.enc.chunks, md)
		}
		if err != nil {
			return err
		}
		meta = false
		if err := s.post(ctx, body, n); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
}

// Close releases idle connections; Write starts no goroutine that
// outlives it.
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdle()
	return nil
}

// requests returns the counter of responses with status code.
func (s *Sink) requests(code int) *metrics.Counter {
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	c, ok := s.codes[code]
	if !ok {
		c = s.metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_requests_total{sink="%s",code="%d"}`, component.Label(s.name), code))
		s.codes[code] = c
	}
	return c
}

var _ component.Sink = (*Sink)(nil)
