package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Options are what a Collector needs besides its config section.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics is where the collector and its components put their
	// series; default a new set.
	Metrics *metrics.Set
	// ConfigPath is the file ReloadFile reads again (SIGHUP, POST /-/reload).
	ConfigPath string
	// Ready, if set, receives the HTTP address once the collector serves.
	Ready func(httpAddr string)

	// registry replaces the built-in component types in tests.
	registry *registry
}

// Collector runs the pipelines of a collector: section.
type Collector struct {
	opt    Options
	lg     *slog.Logger
	set    *metrics.Set
	reg    *registry
	client *client.Client
	dlq    *client.Producer
	http   *httpServer

	reloads        *metrics.Counter
	reloadFailures *metrics.Counter

	mu     sync.Mutex // serialises Reload and Shutdown
	cur    *generation
	closed bool
}

// New checks cfg and makes a collector; Start starts it.
func New(cfg config.Collector, opt Options) (*Collector, error) {
	c := &Collector{opt: opt, lg: cmp.Or(opt.Logger, slog.Default()), set: opt.Metrics, reg: opt.registry}
	if c.set == nil {
		c.set = metrics.NewSet()
	}
	if c.reg == nil {
		c.reg = builtins()
	}
	c.reloads = c.set.GetOrCreateCounter(`sluice_collector_config_reloads_total{result="success"}`)
	c.reloadFailures = c.set.GetOrCreateCounter(`sluice_collector_config_reloads_total{result="failure"}`)
	cfg = cfg.WithDefaults()
	if err := c.check(cfg); err != nil {
		return nil, err
	}
	cl, err := client.New(client.Config{Addr: cfg.Broker, ClientName: "sluice-collector", Logger: c.lg, Metrics: c.set})
	if err != nil {
		return nil, err
	}
	c.client = cl
	// Dead letters and nothing else go through this producer; it is cheap
	// while idle.
	if c.dlq, err = cl.NewProducer(client.ProducerConfig{}); err != nil {
		cl.Close()
		return nil, err
	}
	g, err := c.build(cfg)
	if err != nil {
		cl.Close()
		return nil, err
	}
	c.cur = g
	return c, nil
}

// check makes sure every component of cfg is decoded: a section parsed
// without the component list has no Configs yet.
func (c *Collector) check(cfg config.Collector) error {
	var errs []error
	for pn, p := range cfg.Pipelines {
		for i, pr := range p.Processors {
			if pr.Config == nil {
				errs = append(errs, fmt.Errorf("pipeline %s processor %d (%s): config not loaded with collector.Components()", pn, i, pr.Type))
			}
		}
	}
	for sn, s := range cfg.Sinks {
		if s.Config == nil {
			errs = append(errs, fmt.Errorf("sink %s: config not loaded with collector.Components()", sn))
		}
	}
	return errors.Join(errs...)
}

// Start starts the pipelines and the HTTP server. ctx is for start-up only.
func (c *Collector) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	srv, err := c.serveHTTP(c.cur.cfg.HTTPListen)
	if err != nil {
		return err
	}
	c.http = srv
	if err := c.start(c.cur); err != nil {
		return err
	}
	if c.opt.Ready != nil {
		c.opt.Ready(srv.addr())
	}
	return nil
}

// HTTPAddr is where /metrics, /healthz and /-/reload are served ("" if off).
func (c *Collector) HTTPAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.http.addr()
}

// Reload swaps in the pipelines and sinks of cfg. If any of them cannot
// be built the old ones keep running and the error says why. Pipelines
// finish the batch they hold before they stop, so no event in flight is
// lost; uncommitted messages are read again by the new pipelines.
func (c *Collector) Reload(ctx context.Context, cfg config.Collector) error {
	err := c.reload(ctx, cfg.WithDefaults())
	if err != nil {
		c.reloadFailures.Inc()
		c.lg.Error("config reload refused; the running pipelines go on", "err", err)
		return err
	}
	c.reloads.Inc()
	return nil
}

func (c *Collector) reload(ctx context.Context, cfg config.Collector) error {
	if err := c.check(cfg); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("collector is shut down")
	}
	old := c.cur
	for _, k := range []struct{ name, was, now string }{
		{"broker", old.cfg.Broker, cfg.Broker}, {"http_listen", old.cfg.HTTPListen, cfg.HTTPListen},
		{"input", old.cfg.Input, cfg.Input},
	} {
		if k.was != k.now {
			c.lg.Warn("config reload: a change of this key needs a restart; keeping the old value", "key", k.name, "running", k.was, "file", k.now)
		}
	}
	cfg.Broker, cfg.HTTPListen, cfg.Input, cfg.Kafka = old.cfg.Broker, old.cfg.HTTPListen, old.cfg.Input, old.cfg.Kafka
	if reflect.DeepEqual(configShape(old.cfg), configShape(cfg)) {
		c.lg.Info("config reload: nothing changed")
		return nil
	}
	g, err := c.build(cfg)
	if err != nil {
		return err
	}
	c.stop(ctx, old)
	c.cur = g
	if err := c.start(g); err != nil {
		return fmt.Errorf("start the new pipelines: %w", err)
	}
	c.lg.Info("config reloaded", "pipelines", len(g.pipes), "sinks", len(g.sinks))
	return nil
}

// configShape is what of a section a reload compares: the YAML nodes the
// components were decoded from are not comparable, their Configs are.
func configShape(cfg config.Collector) any {
	type proc struct {
		Type string
		Cfg  any
	}
	type pipe struct {
		From config.From
		To   []string
		Proc []proc
	}
	pipes := map[string]pipe{}
	for n, p := range cfg.Pipelines {
		pp := pipe{From: p.From, To: p.To}
		for _, pr := range p.Processors {
			pp.Proc = append(pp.Proc, proc{pr.Type, pr.Config})
		}
		pipes[n] = pp
	}
	sinks := map[string][2]any{}
	for n, s := range cfg.Sinks {
		sinks[n] = [2]any{s.SinkCommon, s.Config}
	}
	return []any{cfg.Group, pipes, sinks}
}

// ReloadFile reads Options.ConfigPath again and reloads its collector section.
func (c *Collector) ReloadFile(ctx context.Context) error {
	if c.opt.ConfigPath == "" {
		return errors.New("no config file to reload: the collector runs on built-in defaults")
	}
	f, err := config.LoadWith(c.opt.ConfigPath, c.reg.schema())
	if err == nil && f.Collector == nil {
		err = fmt.Errorf("%s: no collector: section", c.opt.ConfigPath)
	}
	if err != nil {
		c.reloadFailures.Inc()
		c.lg.Error("config reload refused; the running pipelines go on", "err", err)
		return err
	}
	return c.Reload(ctx, *f.Collector)
}

// Shutdown stops the pipelines, letting each finish and commit the batch
// it holds while ctx lasts, then closes the sinks (flushing them) and the
// broker client.
func (c *Collector) Shutdown(ctx context.Context) error {
	// The HTTP server first, outside mu: a reload request in progress
	// holds mu until it is done.
	var errs []error
	c.mu.Lock()
	h := c.http
	c.http = nil
	c.mu.Unlock()
	errs = append(errs, h.shutdown(ctx))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	errs = append(errs, c.stop(ctx, c.cur))
	if err := c.dlq.Flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush dead letters: %w", err))
	}
	errs = append(errs, c.client.Close())
	return errors.Join(errs...)
}

// Run starts the collector and runs it until ctx ends, then shuts it
// down within shutdownTimeout.
func (c *Collector) Run(ctx context.Context) error {
	if err := c.Start(ctx); err != nil {
		c.Shutdown(context.Background())
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return c.Shutdown(sctx)
}

// settings returns the Settings of the component called name.
func (c *Collector) settings(name, kind string) component.Settings {
	return component.Settings{Name: name, Logger: c.lg.With(kind, name), Metrics: c.set}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
