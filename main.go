// Command sluice is the single binary of the sluice pipeline. This file only
// builds the command tree; every component lives in its own package.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/agent"
	"github.com/sluicehq/sluice/broker/cli"
	"github.com/sluicehq/sluice/collector"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/up"
)

// version is set at build time with
// -ldflags "-X main.version=v1.2.3"; left at "dev", the module version
// recorded by `go install module@version` is used instead.
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		// cobra has already printed the error.
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "sluice moves logs and metrics from hosts through a broker to sinks",
		// A usage dump after a runtime error hides the error itself.
		SilenceUsage: true,
	}
	root.AddCommand(newVersionCmd(), cli.BrokerCommand(), agent.Command(), collector.Command(), up.Command(), cli.AdminCommand(), cli.BenchCommand(), newValidateCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sluice version and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "sluice %s (%s)\n", resolveVersion(), runtime.Version())
			return err
		},
	}
}

// resolveVersion prefers the -ldflags value, then the main module version
// from the build info, which is "(devel)" for a plain `go build` in a
// checkout and therefore not worth printing.
func resolveVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return version
}

// newValidateCmd is `sluice validate -c FILE`: exit 0, or exit 1 with one
// FILE:LINE:COL: message line per problem.
func newValidateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a config file: every problem as FILE:LINE:COL: message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := config.LoadWith(path, collector.Components()); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				cmd.SilenceErrors = true
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file to check (required)")
	cmd.MarkFlagRequired("config")
	return cmd
}
