package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/server"
	"github.com/sluicehq/sluice/broker/store"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Defaults of the broker section, as DESIGN.md gives them.
const (
	DefaultListen     = "127.0.0.1:7600"
	DefaultHTTPListen = "127.0.0.1:7601"
	DefaultDataDir    = "./data/broker"
	shutdownTimeout   = 10 * time.Second
)

// BrokerCommand is `sluice broker [-c FILE]`.
func BrokerCommand() *cobra.Command {
	var cfgPath, listen, httpListen, dataDir string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the broker: topics on a commit log, consumer groups, admin HTTP API",
		Long: `Run the broker with the broker: section of FILE (every key is optional).
Flags override the file. SIGTERM or SIGINT stop it gracefully: no new
connections, in-flight requests finish, everything is flushed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var sec config.Broker
			if cfgPath != "" {
				f, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				if f.Broker != nil {
					sec = *f.Broker
				}
			}
			flags := cmd.Flags()
			if flags.Changed("listen") {
				sec.Listen = listen
			}
			if flags.Changed("http-listen") {
				sec.HTTPListen = httpListen
			}
			if flags.Changed("data-dir") {
				sec.DataDir = dataDir
			}
			if errs := sec.Validate("broker"); len(errs) > 0 {
				return fmt.Errorf("broker: %s", errs[0].Msg)
			}
			return RunBroker(cmd.Context(), ServerConfig(sec, slog.New(slog.NewTextHandler(os.Stderr, nil))))
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "config file (YAML, broker: section)")
	cmd.Flags().StringVar(&listen, "listen", DefaultListen, "protocol address")
	cmd.Flags().StringVar(&httpListen, "http-listen", DefaultHTTPListen, `HTTP address for /metrics, /healthz and /api/v1 ("off" disables)`)
	cmd.Flags().StringVar(&dataDir, "data-dir", DefaultDataDir, "where the commit log, queues and group offsets live")
	return cmd
}

// ServerConfig turns the broker: section into the server's configuration,
// filling in the defaults of DESIGN.md.
func ServerConfig(sec config.Broker, lg *slog.Logger) server.Config {
	cfg := server.Config{
		Listen:           orDefault(sec.Listen, DefaultListen),
		HTTPListen:       orDefault(sec.HTTPListen, DefaultHTTPListen),
		DataDir:          orDefault(sec.DataDir, DefaultDataDir),
		Flush:            store.FlushMode(orDefault(sec.Flush, string(store.FlushSync))),
		FlushInterval:    sec.FlushInterval.D(),
		MaxAge:           sec.Retention.MaxAge.D(),
		MaxSize:          int64(sec.Retention.MaxSize),
		DiskFullRatio:    sec.DiskFullRatio,
		AutoCreateTopics: sec.AutoCreateTopics == nil || *sec.AutoCreateTopics,
		DefaultQueues:    sec.DefaultQueues,
		MaxFrame:         int(sec.MaxFrame),
		MaxInflightBytes: int64(sec.MaxInflight),
		SessionTimeout:   sec.SessionTimeout.D(),
		ShutdownTimeout:  shutdownTimeout,
		Logger:           lg,
	}
	return cfg
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// RunBroker runs a server until ctx ends or SIGTERM/SIGINT arrives, then
// shuts it down within shutdownTimeout.
func RunBroker(ctx context.Context, cfg server.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.Start(cfg)
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	cfg.Logger.Info("broker listening", "addr", srv.Addr(), "http", srv.HTTPAddr(), "data_dir", cfg.DataDir, "flush", cfg.Flush)
	<-ctx.Done()
	cfg.Logger.Info("broker shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shut down broker: %w", err)
	}
	cfg.Logger.Info("broker stopped")
	return nil
}
