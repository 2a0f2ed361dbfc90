package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/kafkaout"
	"github.com/sluicehq/sluice/agent/ship"
	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/agent/spool"
	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/internal/debughttp"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Defaults of the agent section, as DESIGN.md gives them.
const (
	DefaultBroker     = "127.0.0.1:7600"
	DefaultHTTPListen = "127.0.0.1:7610"
	DefaultSpoolDir   = "./data/agent"
	shutdownTimeout   = 10 * time.Second
)

// ErrNotRunning is returned by Reload before the agent's sources started
// or after they stopped.
var ErrNotRunning = errors.New("agent: not running")

// Options are what Run needs besides the agent section.
type Options struct {
	Logger *slog.Logger
	// Ready, if set, receives the HTTP address ("" with http_listen: off)
	// once the agent serves and its sources run: Reload works from then on.
	Ready func(httpAddr string)
}

// Agent is the agent of one host: its output, spool, shipper, sources and
// HTTP endpoint. Run runs it once; Reload changes its sources meanwhile.
type Agent struct {
	lg   *slog.Logger
	opt  Options
	set  *metrics.Set
	host string
	rm   reloadMetrics

	// mu serialises Reload with the start and the stop of the sources,
	// and guards the fields below.
	mu      sync.Mutex
	sec     config.Agent // what runs: sources as reloaded, the rest as started
	ctx     context.Context
	emitter source.Emitter
	running map[string]*runningSource
}

// New returns an agent for sec; Run starts it.
func New(sec config.Agent, opt Options) *Agent {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	set := metrics.NewSet()
	return &Agent{lg: opt.Logger, opt: opt, set: set, host: host, rm: newReloadMetrics(set), sec: sec,
		running: map[string]*runningSource{}}
}

// Run runs the agent for sec until ctx ends.
func Run(ctx context.Context, sec config.Agent, opt Options) error {
	return New(sec, opt).Run(ctx)
}

// Run runs the agent until ctx ends. It may be called once.
func (a *Agent) Run(ctx context.Context) error {
	sec, lg, set := a.sec, a.lg, a.set
	out, closeOut, err := newOutput(sec, lg, set)
	if err != nil {
		return err
	}
	defer closeOut()
	sp, err := spool.Open(spool.Config{Dir: orDefault(sec.Spool.Dir, DefaultSpoolDir), MaxSize: int64(sec.Spool.MaxSize),
		WhenFull: sec.Spool.WhenFull, Logger: lg.With("component", "spool"), Metrics: set})
	if err != nil {
		return err
	}
	defer sp.Close()
	sh, err := ship.New(ship.Config{Sender: out, Spool: sp, Logger: lg, Metrics: set})
	if err != nil {
		return err
	}
	sources, err := buildSources(sec, a.env())
	if err != nil {
		return err
	}
	httpAddr, stopHTTP, err := serveHTTP(orDefault(sec.HTTPListen, DefaultHTTPListen), set, lg)
	if err != nil {
		closeSources(sources)
		return err
	}
	defer stopHTTP()
	sh.Start()
	a.startSources(ctx, sh, sources)
	if a.opt.Ready != nil {
		a.opt.Ready(httpAddr)
	}
	<-ctx.Done()
	a.stopSources()
	// Sources have stopped: flush what the producer holds, then stop.
	fctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if ferr := out.Flush(fctx); ferr != nil {
		lg.Warn("agent stopping with records not yet acknowledged; they are sent after the next start", "err", ferr)
	}
	sh.Close()
	return nil
}

// env is what the agent gives every source it builds.
func (a *Agent) env() sourceEnv {
	return sourceEnv{host: a.host, stateDir: orDefault(a.sec.Spool.Dir, DefaultSpoolDir), lg: a.lg, set: a.set}
}

// output is where the shipper sends: the broker's producer or Kafka.
type output interface {
	ship.Sender
	Flush(ctx context.Context) error
}

// newOutput makes the configured output; the returned func closes it.
func newOutput(sec config.Agent, lg *slog.Logger, set *metrics.Set) (output, func(), error) {
	if sec.Output == "kafka" {
		w, err := kafkaout.New(kafkaout.Config{Brokers: sec.Kafka.Brokers, Topic: sec.Kafka.Topic, Logger: lg, Metrics: set})
		if err != nil {
			return nil, nil, err
		}
		return w, func() { w.Close() }, nil
	}
	c, err := client.New(client.Config{Addr: orDefault(sec.Broker, DefaultBroker), ClientName: "sluice-agent", Logger: lg, Metrics: set})
	if err != nil {
		return nil, nil, err
	}
	// Retry until delivered: the spool and the sources' checkpoints hold
	// what is not acknowledged, so a batch never needs to fail for time.
	p, err := c.NewProducer(client.ProducerConfig{DeliveryTimeout: 365 * 24 * time.Hour})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	// Closing the client closes the producer without a flush that could
	// wait for a broker that is away; Run has flushed within its deadline.
	return p, func() { c.Close() }, nil
}

type namedSource struct {
	name string
	cfg  config.Source
	src  source.Source
}

// buildSources builds every source of sec, or none: receivers listen
// from New on, so on an error the ones built release their ports.
func buildSources(sec config.Agent, env sourceEnv) ([]namedSource, error) {
	names := make([]string, 0, len(sec.Sources))
	for n := range sec.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []namedSource
	var errs []error
	for _, n := range names {
		s, err := buildNamed(n, sec.Sources[n], env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		closeSources(out)
		return nil, err
	}
	return out, nil
}

func buildNamed(name string, sc config.Source, env sourceEnv) (namedSource, error) {
	env.lg = env.lg.With("source", name)
	s, err := buildSource(name, sc, env)
	return namedSource{name, sc, s}, err
}

// closeSources releases what sources built but never run hold.
func closeSources(sources []namedSource) {
	for _, s := range sources {
		if c, ok := s.src.(io.Closer); ok {
			c.Close()
		}
	}
}

// runningSource is a source whose Run goroutine the agent owns.
type runningSource struct {
	cfg    config.Source
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

// exited reports whether the source's Run returned (it failed, or was
// stopped).
func (r *runningSource) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *runningSource) stop() {
	r.cancel()
	<-r.done
}

// startSources starts sources under ctx, emitting into e; from then on
// Reload may change them.
func (a *Agent) startSources(ctx context.Context, e source.Emitter, sources []namedSource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ctx, a.emitter = ctx, e
	for _, s := range sources {
		a.startLocked(s)
	}
	a.rm.lastSuccess.Set(float64(time.Now().Unix()))
}

// startLocked runs s until the agent's context ends or it is stopped; a
// source that fails is logged and the others go on.
func (a *Agent) startLocked(s namedSource) {
	ctx, cancel := context.WithCancel(a.ctx)
	r := &runningSource{cfg: s.cfg, cancel: cancel, done: make(chan struct{})}
	a.running[s.name] = r
	e := a.emitter
	go func() {
		defer close(r.done)
		if err := s.src.Run(ctx, e); err != nil {
			a.lg.Error("source stopped", "source", s.name, "err", err)
		}
	}()
}

// stopSources stops every source and waits for them; Reload fails after.
func (a *Agent) stopSources() {
	a.mu.Lock()
	defer a.mu.Unlock()
	stopAll(a.running)
	clear(a.running)
	a.ctx, a.emitter = nil, nil
}

// stopAll stops the sources together and waits for every one.
func stopAll(rs map[string]*runningSource) {
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
}

// serveHTTP serves /metrics and /healthz; it returns the address it
// listens on and a func stopping it.
func serveHTTP(addr string, set *metrics.Set, lg *slog.Logger) (string, func(), error) {
	if addr == "off" {
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("agent http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { set.WritePrometheus(w) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	debughttp.Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Error("agent http", "err", err)
		}
	}()
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
