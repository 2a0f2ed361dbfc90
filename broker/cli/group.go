package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/protocol"
)

func groupCommand(o *adminOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "List, describe (lag per queue) and reset consumer groups"}
	list := &cobra.Command{
		Use: "list", Short: "List consumer groups with their total lag", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				groups, err := c.ListGroups(ctx)
				if err != nil {
					return err
				}
				if o.json {
					return printJSON(cmd.OutOrStdout(), groups)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "GROUP\tTOPIC\tMODE\tMEMBERS\tLAG")
				for _, g := range groups {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", g.Group, g.Topic, g.Mode, len(g.Members), g.TotalLag)
				}
				return tw.Flush()
			})
		},
	}
	describe := &cobra.Command{
		Use: "describe GROUP", Short: "Show a group's members and lag per queue", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				groups, err := c.DescribeGroup(ctx, args[0])
				if err != nil {
					return err
				}
				if o.json {
					return printJSON(cmd.OutOrStdout(), groups)
				}
				return printGroups(cmd.OutOrStdout(), groups)
			})
		},
	}
	for _, c := range []*cobra.Command{list, describe} {
		c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	}
	var topic, to string
	reset := &cobra.Command{
		Use:   "reset GROUP --topic T --to earliest|latest|RFC3339",
		Short: "Move a stopped group's offsets on a topic to the start, the end or a time",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to != "earliest" && to != "latest" {
				if _, err := time.Parse(time.RFC3339, to); err != nil {
					return fmt.Errorf("--to %q: want earliest, latest or an RFC 3339 time", to)
				}
			}
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				if err := c.ResetGroup(ctx, args[0], topic, to); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "group %s on topic %s reset to %s\n", args[0], topic, to)
				return nil
			})
		},
	}
	reset.Flags().StringVar(&topic, "topic", "", "topic whose offsets move (required)")
	reset.Flags().StringVar(&to, "to", "", "earliest, latest or an RFC 3339 time (required)")
	reset.MarkFlagRequired("topic")
	reset.MarkFlagRequired("to")
	cmd.AddCommand(list, describe, reset)
	return cmd
}

func printGroups(w io.Writer, groups []protocol.GroupInfo) error {
	tw := newTable(w)
	for _, g := range groups {
		fmt.Fprintf(tw, "group %s on topic %s (%s, generation %d), %d members, lag %d\n",
			g.Group, g.Topic, g.Mode, g.Generation, len(g.Members), g.TotalLag)
		for _, m := range g.Members {
			fmt.Fprintf(tw, "  member %s (%s) queues %v\n", m.MemberID, m.ClientID, m.Queues)
		}
		fmt.Fprintln(tw, "QUEUE\tCOMMITTED\tMAX\tLAG\tOLDEST AGE\tOWNER")
		for _, l := range g.Lag {
			age := time.Duration(l.OldestAgeMs) * time.Millisecond
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%s\n", l.Queue, l.Committed, l.Max, l.Lag, age, l.Owner)
		}
	}
	return tw.Flush()
}

func messageCommand(o *adminOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "message", Short: "Find messages by ID or key"}
	var format string
	get := &cobra.Command{
		Use: "get ID", Short: "Print the message with this ID", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				m, err := c.GetMessage(ctx, args[0])
				if err != nil {
					return err
				}
				return printMessage(cmd.OutOrStdout(), format, &m)
			})
		},
	}
	var key string
	var limit int
	query := &cobra.Command{
		Use: "query TOPIC --key K", Short: "Print the messages of a topic with a key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, o, func(ctx context.Context, c *client.Client) error {
				ms, err := c.QueryKey(ctx, args[0], key, limit)
				if err != nil {
					return err
				}
				for i := range ms {
					if err := printMessage(cmd.OutOrStdout(), format, &ms[i]); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	query.Flags().StringVar(&key, "key", "", "message key (required)")
	query.Flags().IntVar(&limit, "limit", 0, "at most this many, the newest (0: the broker's limit)")
	query.MarkFlagRequired("key")
	for _, c := range []*cobra.Command{get, query} {
		c.Flags().StringVar(&format, "format", "json", "text or json")
	}
	cmd.AddCommand(get, query)
	return cmd
}
