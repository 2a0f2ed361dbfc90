package scrape

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/sluicehq/sluice/agent/source"
)

// Scraper is a prometheus_scrape source.
type Scraper struct {
	cfg           Config
	relabel       []*relabel.Config
	metricRelabel []*relabel.Config
	client        *http.Client
	bufs          sync.Pool // of *bytes.Buffer, scrape bodies
	outs          sync.Pool // of *[]byte, encoded WriteRequests acknowledged downstream
	sd            fileSD
	m             scraperMetrics
}

type scraperMetrics struct {
	scrapes, errors *metrics.Counter
	duration        *metrics.Histogram
	targets         *metrics.Gauge
}

var _ source.Source = (*Scraper)(nil)

// New validates cfg and returns a Scraper.
func New(cfg Config) (*Scraper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Scraper{
		cfg:           cfg,
		relabel:       prepareRelabel(cfg.RelabelConfigs),
		metricRelabel: prepareRelabel(cfg.MetricRelabelConfigs),
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.TLSConfig
	tr.MaxIdleConnsPerHost = 2
	s.client = &http.Client{Transport: tr}
	lbl := fmt.Sprintf(`{source=%q}`, cfg.Name)
	s.m = scraperMetrics{
		scrapes:  cfg.Metrics.GetOrCreateCounter("sluice_agent_scrapes_total" + lbl),
		errors:   cfg.Metrics.GetOrCreateCounter("sluice_agent_scrape_errors_total" + lbl),
		duration: cfg.Metrics.GetOrCreateHistogram("sluice_agent_scrape_duration_seconds" + lbl),
	}
	s.m.targets = cfg.Metrics.GetOrCreateGauge("sluice_agent_scrape_targets"+lbl, nil)
	return s, nil
}

// Run scrapes every target until ctx ends, refreshing the target set
// every interval; it stops and waits for every target loop.
func (s *Scraper) Run(ctx context.Context, e source.Emitter) error {
	loops := make(map[string]*loop)
	defer func() {
		for _, l := range loops {
			<-l.done // ctx ended: each loop returns without emitting
		}
		s.m.targets.Set(0)
		s.client.CloseIdleConnections()
	}()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		s.sync(ctx, e, loops)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sync starts loops for new targets and stops those of targets gone,
// each of which marks its series stale before it returns.
func (s *Scraper) sync(ctx context.Context, e source.Emitter, loops map[string]*loop) {
	want := s.targets()
	for id, l := range loops {
		if _, ok := want[id]; !ok {
			close(l.stop)
			<-l.done
			delete(loops, id)
		}
	}
	for id, t := range want {
		if _, ok := loops[id]; !ok {
			l := newLoop(s, t)
			loops[id] = l
			go l.run(ctx, e)
		}
	}
	s.m.targets.Set(float64(len(loops)))
}

// targets computes the current target set, keyed by target identity.
func (s *Scraper) targets() map[string]target {
	groups := []TargetGroup{{Targets: s.cfg.Targets}}
	if len(s.cfg.FileSD) > 0 {
		gs, err := s.sd.groups(s.cfg.FileSD)
		if err != nil {
			s.cfg.Logger.Warn("file_sd", "source", s.cfg.Name, "err", err)
		}
		groups = append(groups, gs...)
	}
	out := make(map[string]target)
	for _, g := range groups {
		for _, addr := range g.Targets {
			t, ok, err := s.cfg.buildTarget(addr, g.Labels, s.relabel)
			if err != nil {
				s.cfg.Logger.Warn("target dropped", "source", s.cfg.Name, "address", addr, "err", err)
				continue
			}
			if ok {
				out[t.id] = t
			}
		}
	}
	return out
}

// takeOut returns an empty buffer of at least n bytes for a WriteRequest.
func (s *Scraper) takeOut(n int) []byte {
	if p, ok := s.outs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// putOut takes back the body of an acknowledged record.
func (s *Scraper) putOut(b []byte) {
	b = b[:0]
	s.outs.Put(&b)
}
