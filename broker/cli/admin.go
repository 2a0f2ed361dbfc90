package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
)

// adminEnv is the environment variable naming the broker, below --broker.
const adminEnv = "SLUICE_BROKER"

// adminOpts are the flags every admin command shares.
type adminOpts struct {
	broker  string
	timeout time.Duration
	json    bool
}

// connect returns a client of the broker named by --broker, $SLUICE_BROKER
// or the default address.
func (o *adminOpts) connect(cmd *cobra.Command) (*client.Client, error) {
	addr := o.broker
	if !cmd.Flags().Changed("broker") {
		if env := os.Getenv(adminEnv); env != "" {
			addr = env
		}
	}
	return client.New(client.Config{Addr: addr, ClientName: "sluice-admin"})
}

// ctx bounds one admin request by --request-timeout.
func (o *adminOpts) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), o.timeout)
}

// AdminCommand is `sluice admin`.
func AdminCommand() *cobra.Command {
	o := &adminOpts{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage and use a running broker: topics, produce, consume, groups, messages",
	}
	cmd.PersistentFlags().StringVar(&o.broker, "broker", client.DefaultAddr, "broker address (or $"+adminEnv+")")
	cmd.PersistentFlags().DurationVar(&o.timeout, "request-timeout", 30*time.Second, "how long one admin request may take")
	cmd.AddCommand(topicCommand(o), groupCommand(o), messageCommand(o), produceCommand(o), consumeCommand(o))
	return cmd
}

// withClient runs fn with a connected client and a request context.
func withClient(cmd *cobra.Command, o *adminOpts, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := o.connect(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := o.ctx(cmd)
	defer cancel()
	return fn(ctx, c)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 8, 2, ' ', 0) }

func topicCommand(o *adminOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "topic", Short: "Create, list, describe and delete topics"}
	var queues int
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a topic", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				if err := c.CreateTopic(ctx, args[0], queues); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s\n", args[0])
				return nil
			})
		},
	}
	create.Flags().IntVar(&queues, "queues", 0, "number of queues (0: the broker's default_queues)")
	list := &cobra.Command{
		Use: "list", Short: "List topics", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				topics, err := c.ListTopics(ctx)
				if err != nil {
					return err
				}
				if o.json {
					return printJSON(cmd.OutOrStdout(), topics)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "TOPIC\tQUEUES\tCREATED")
				for _, t := range topics {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, t.Queues, t.CreatedAt)
				}
				return tw.Flush()
			})
		},
	}
	describe := &cobra.Command{
		Use: "describe NAME", Short: "Show a topic's queues: offsets and last write", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				t, err := c.DescribeTopic(ctx, args[0])
				if err != nil {
					return err
				}
				if o.json {
					return printJSON(cmd.OutOrStdout(), t)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintf(tw, "topic %s, %d queues\n", t.Name, t.Queues)
				fmt.Fprintln(tw, "QUEUE\tMIN\tMAX\tBYTES\tLAST STORED")
				for _, q := range t.QueueInfo {
					fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\n", q.Queue, q.Min, q.Max, q.Bytes, q.LastSeen)
				}
				return tw.Flush()
			})
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a topic and its messages", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				if err := c.DeleteTopic(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", args[0])
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{list, describe} {
		c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	}
	cmd.AddCommand(create, list, describe, del)
	return cmd
}
