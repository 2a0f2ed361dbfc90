package agent

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

// Command is `sluice agent [-c FILE]`. SIGTERM and SIGINT stop it; SIGHUP
// reads FILE again and reloads the sources (Agent.ReloadFile).
func Command() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: read sources on this host and ship them to the broker",
		Long: "Run the agent: read sources on this host and ship them to the broker.\n\n" +
			"SIGHUP reads the config file again and reloads the sources; changes to broker,\n" +
			"http_listen, output, kafka and spool need a restart.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if f.Agent == nil || len(f.Agent.Sources) == 0 {
				return fmt.Errorf("%s: the agent: section has no sources", cfgPath)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			lg := slog.New(slog.NewTextHandler(os.Stderr, nil))
			a := New(*f.Agent, Options{Logger: lg, Ready: func(addr string) {
				lg.Info("agent running", "http", addr, "sources", len(f.Agent.Sources))
			}})
			done := reloadOnHUP(ctx, a, cfgPath)
			defer done()
			// The limit is the process's, so the command's, not Agent's:
			// in `sluice up` the agent shares its process.
			stopTuner := memlimit.Start(ctx, f.Agent.MemoryTargetBytes(), false)
			defer stopTuner()
			return a.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "sluice.yaml", "config file (YAML, agent: section)")
	return cmd
}

// reloadOnHUP reloads a from path on every SIGHUP until ctx ends; the
// returned func stops listening and waits for a reload under way.
func reloadOnHUP(ctx context.Context, a *Agent, path string) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.lg.Info("SIGHUP: reloading the config", "file", path)
				a.ReloadFile(path) // logs and counts its outcome
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
