package collector

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/memlimit"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Command is `sluice collector [-c FILE]`.
func Command() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Run the collector: consume topics, run pipelines, write to sinks",
		Long: "Run the collector: consume topics, run pipelines, write to sinks.\n\n" +
			"SIGHUP or POST /-/reload re-reads the config file: the new pipelines replace the old ones\n" +
			"only if the whole file checks and every component builds; otherwise the old ones go on.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.LoadWith(cfgPath, Components())
			if err != nil {
				return err
			}
			if f.Collector == nil {
				return fmt.Errorf("%s: no collector: section", cfgPath)
			}
			lg := slog.New(slog.NewTextHandler(os.Stderr, nil))
			c, err := New(*f.Collector, Options{Logger: lg, ConfigPath: cfgPath, Ready: func(addr string) {
				lg.Info("collector running", "http", addr, "pipelines", len(f.Collector.Pipelines))
			}})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			stopHUP := OnSIGHUP(ctx, func() { c.ReloadFile(ctx) })
			defer stopHUP()
			// The GC settings are the process's, so the command's, not the
			// Collector's: `sluice up` shares its process.
			stopBudget := memlimit.Start(ctx, int64(f.Collector.MemoryBudget), true)
			defer stopBudget()
			return c.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "sluice.yaml", "config file (YAML, collector: section)")
	return cmd
}

// OnSIGHUP calls reload on every SIGHUP until ctx ends or the returned
// func is called; the func waits for the watcher to stop.
func OnSIGHUP(ctx context.Context, reload func()) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
