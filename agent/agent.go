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
	"github.com/sluicehq/sluice/pipelines/config"
)

// Defaults of the agent section, as DESIGN.md gives them.
const (
	DefaultBroker     = "127.0.0.1:7600"
	DefaultHTTPListen = "127.0.0.1:7610"
	DefaultSpoolDir   = "./data/agent"
	shutdownTimeout   = 10 * time.Second
)

// Options are what Run needs besides the agent section.
type Options struct {
	Logger *slog.Logger
	// Ready, if set, receives the HTTP address once the agent serves.
	Ready func(httpAddr string)
}

// Run runs the agent until ctx ends.
func Run(ctx context.Context, sec config.Agent, opt Options) error {
	lg := opt.Logger
	if lg == nil {
		lg = slog.Default()
	}
	host, _ := os.Hostname()
	set := metrics.NewSet()
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
	sources, err := buildSources(sec, sourceEnv{host: host, stateDir: orDefault(sec.Spool.Dir, DefaultSpoolDir), lg: lg, set: set})
	if err != nil {
		return err
	}
	stopHTTP, err := serveHTTP(orDefault(sec.HTTPListen, DefaultHTTPListen), set, lg, opt.Ready)
	if err != nil {
		return err
	}
	defer stopHTTP()
	sh.Start()
	err = runSources(ctx, sources, sh, lg)
	// Sources have stopped: flush what the producer holds, then stop.
	fctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if ferr := out.Flush(fctx); ferr != nil {
		lg.Warn("agent stopping with records not yet acknowledged; they are sent after the next start", "err", ferr)
	}
	sh.Close()
	return err
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
	src  source.Source
}

func buildSources(sec config.Agent, env sourceEnv) ([]namedSource, error) {
	names := make([]string, 0, len(sec.Sources))
	for n := range sec.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []namedSource
	var errs []error
	for _, n := range names {
		e := env
		e.lg = env.lg.With("source", n)
		s, err := buildSource(n, sec.Sources[n], e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, namedSource{n, s})
	}
	if err := errors.Join(errs...); err != nil {
		// Receivers listen from New on: release their ports.
		for _, s := range out {
			if c, ok := s.src.(io.Closer); ok {
				c.Close()
			}
		}
		return nil, err
	}
	return out, nil
}

// runSources runs every source until ctx ends; a source that fails is
// logged and the others go on.
func runSources(ctx context.Context, sources []namedSource, e source.Emitter, lg *slog.Logger) error {
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.src.Run(ctx, e); err != nil {
				lg.Error("source stopped", "source", s.name, "err", err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// serveHTTP serves /metrics and /healthz; the returned func stops it.
func serveHTTP(addr string, set *metrics.Set, lg *slog.Logger, ready func(string)) (func(), error) {
	if addr == "off" {
		if ready != nil {
			ready("")
		}
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { set.WritePrometheus(w) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Error("agent http", "err", err)
		}
	}()
	if ready != nil {
		ready(l.Addr().String())
	}
	return func() {
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
