package agent

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/pipelines/config"
)

// Command is `sluice agent [-c FILE]`.
func Command() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: read sources on this host and ship them to the broker",
		Args:  cobra.NoArgs,
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
			return Run(ctx, *f.Agent, Options{Logger: lg, Ready: func(addr string) {
				lg.Info("agent running", "http", addr, "sources", len(f.Agent.Sources))
			}})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "sluice.yaml", "config file (YAML, agent: section)")
	return cmd
}
