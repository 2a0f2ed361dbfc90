package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
)

type consumeOpts struct {
	group, from, tags, format string
	max                       int
	timeout                   time.Duration
}

func consumeCommand(o *adminOpts) *cobra.Command {
	co := &consumeOpts{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC --group G",
		Short: "Print a topic's messages as a member of a consumer group",
		Long: `Print TOPIC's messages as a member of group G, committing the group's
offsets after each printed batch. Stops after --max messages, or once no
message arrived for --timeout (default: runs until interrupted).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if co.format != "text" && co.format != "json" {
				return fmt.Errorf("--format %q: want text or json", co.format)
			}
			c, err := o.connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			return consume(cmd.Context(), c, args[0], co, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&co.group, "group", "", "consumer group (required)")
	f.StringVar(&co.from, "from", "earliest", "where a new group starts: earliest, latest or an RFC 3339 time")
	f.IntVar(&co.max, "max", 0, "exit after this many messages (0: no limit)")
	f.DurationVar(&co.timeout, "timeout", 0, "exit after this long without a message (0: wait forever)")
	f.StringVar(&co.tags, "tags", "", `tag filter, e.g. 'A || B'`)
	f.StringVar(&co.format, "format", "text", "text (the body) or json (every field)")
	cmd.MarkFlagRequired("group")
	return cmd
}

func consume(ctx context.Context, c *client.Client, topic string, co *consumeOpts, out io.Writer) error {
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: co.group, Topic: topic, StartFrom: co.from, Tags: co.tags})
	if err != nil {
		return err
	}
	defer cons.Close()
	w := bufio.NewWriter(out)
	printed := 0
	idle := time.Now()
	for co.max == 0 || printed < co.max {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if co.timeout > 0 {
			pctx, cancel = context.WithDeadline(ctx, idle.Add(co.timeout))
		}
		msgs, err := cons.Poll(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return nil // idle for --timeout
			}
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		if len(msgs) == 0 {
			continue
		}
		if co.max > 0 && len(msgs) > co.max-printed {
			msgs = msgs[:co.max-printed]
		}
		for i := range msgs {
			if err := printMessage(w, co.format, &msgs[i]); err != nil {
				return err
			}
		}
		// Printed before committed: a crash between the two prints a
		// message twice, never loses one.
		if err := w.Flush(); err != nil {
			return err
		}
		if err := cons.Commit(ctx, msgs); err != nil && !errors.Is(err, client.ErrFenced) {
			return fmt.Errorf("commit offsets of group %s: %w", co.group, err)
		}
		printed += len(msgs)
		idle = time.Now()
	}
	return nil
}

// jsonMessage is the `--format json` line; DESIGN.md fixes its fields.
type jsonMessage struct {
	Topic       string            `json:"topic"`
	Queue       uint32            `json:"queue"`
	Offset      int64             `json:"offset"`
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	Tags        string            `json:"tags"`
	Properties  map[string]string `json:"properties"`
	Body        string            `json:"body"`
	BornAt      string            `json:"born_at"`
	StoredAt    string            `json:"stored_at"`
	DeliveredAt string            `json:"delivered_at,omitempty"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// printMessage writes one message: its body in text format, a JSON object
// in json format, each on one line.
func printMessage(w io.Writer, format string, m *client.Message) error {
	if format == "text" {
		_, err := fmt.Fprintf(w, "%s\n", m.Body)
		return err
	}
	props := m.Properties
	if props == nil {
		props = map[string]string{}
	}
	b, err := json.Marshal(jsonMessage{
		Topic: m.Topic, Queue: m.Queue, Offset: m.Offset, ID: m.ID, Key: m.Key, Tags: m.Tags,
		Properties: props, Body: string(m.Body), BornAt: fmtTime(m.BornAt), StoredAt: fmtTime(m.StoredAt),
		DeliveredAt: fmtTime(m.DeliverAt),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
