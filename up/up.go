package up

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/agent"
	"github.com/sluicehq/sluice/broker/cli"
	"github.com/sluicehq/sluice/broker/server"
	"github.com/sluicehq/sluice/collector"
	"github.com/sluicehq/sluice/configs"
	"github.com/sluicehq/sluice/pipelines/config"
)

// brokerShutdownTimeout is what the broker gets after the agent and the
// collector have stopped.
const brokerShutdownTimeout = 5 * time.Second

// Command is `sluice up [-c FILE]`.
func Command() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run broker, agent and collector in one process (a demo on built-in defaults without -c)",
		Long: `Run the broker, the agent and the collector in one process.

With -c FILE, the broker:, agent: and collector: sections of FILE (each optional).
Without it, configs/quickstart.yaml (built in): data under ./data, a generator
writes demo log lines to ./data/demo/app.log, the agent tails them and scrapes
the process's own /metrics, and the collector writes ./out/.
SIGHUP reloads the agent's sources and the collector's pipelines from FILE;
POST /-/reload on the collector's HTTP address reloads the collector.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lg := slog.New(slog.NewTextHandler(os.Stderr, nil))
			var f *config.File
			var err error
			if cfgPath == "" {
				f, err = config.ParseWith("quickstart.yaml (built in)", configs.Quickstart, collector.Components())
			} else {
				f, err = config.LoadWith(cfgPath, collector.Components())
			}
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return Run(ctx, f, Options{Logger: lg, ConfigPath: cfgPath, Demo: cfgPath == ""})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "config file (YAML: broker:, agent:, collector:); none runs the demo")
	return cmd
}

// Options are what Run needs besides the config.
type Options struct {
	Logger *slog.Logger
	// ConfigPath is the file the agent and the collector reload on
	// SIGHUP ("" for none).
	ConfigPath string
	// Demo runs the demo log generator into ./data/demo.
	Demo bool
	// DemoDir overrides ./data/demo.
	DemoDir string
	// Ready, if set, is called once every component serves.
	Ready func()
}

// Run runs every section of f that is present (the broker always) until
// ctx ends, then stops the agent and the collector and last the broker.
func Run(ctx context.Context, f *config.File, opt Options) error {
	lg := opt.Logger
	var bsec config.Broker
	if f.Broker != nil {
		bsec = *f.Broker
	}
	srv, err := server.Start(cli.ServerConfig(bsec, lg.With("component", "broker")))
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	lg.Info("broker listening", "addr", srv.Addr(), "http", srv.HTTPAddr())
	var coll *collector.Collector
	if f.Collector != nil {
		csec := *f.Collector
		if csec.Broker == "" {
			csec.Broker = srv.Addr()
		}
		coll, err = collector.New(csec, collector.Options{Logger: lg.With("component", "collector"), ConfigPath: opt.ConfigPath})
		if err == nil {
			err = coll.Start(ctx)
		}
		if err != nil {
			shutdownBroker(srv, lg)
			return fmt.Errorf("start collector: %w", err)
		}
		lg.Info("collector running", "http", coll.HTTPAddr(), "pipelines", len(csec.Pipelines))
	}
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 3)
	var ag *agent.Agent
	if f.Agent != nil {
		asec := *f.Agent
		if asec.Broker == "" {
			asec.Broker = srv.Addr()
		}
		ag = agent.New(asec, agent.Options{Logger: lg.With("component", "agent")})
		wg.Go(func() { errs <- wrap("agent", ag.Run(runCtx)) })
	}
	if opt.Demo {
		dir := opt.DemoDir
		if dir == "" {
			dir = filepath.Join("data", "demo")
		}
		wg.Go(func() { errs <- wrap("demo generator", generateDemo(runCtx, dir)) })
		lg.Info("demo running: log lines go to " + dir + "/app.log, the collector writes ./out/")
	}
	stopHUP := func() {}
	if opt.ConfigPath != "" {
		stopHUP = collector.OnSIGHUP(runCtx, func() {
			if coll != nil {
				coll.ReloadFile(runCtx)
			}
			if ag != nil {
				ag.ReloadFile(opt.ConfigPath)
			}
		})
	}
	if opt.Ready != nil {
		opt.Ready()
	}
	<-ctx.Done()
	cancel()
	stopHUP()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if coll != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		all = append(all, wrap("collector", coll.Shutdown(sctx)))
		scancel()
	}
	all = append(all, shutdownBroker(srv, lg))
	return errors.Join(all...)
}

func shutdownBroker(srv *server.Server, lg *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), brokerShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		lg.Error("broker shutdown", "err", err)
		return fmt.Errorf("shut down broker: %w", err)
	}
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
