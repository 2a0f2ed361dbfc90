package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
)

// maxLine bounds one message read from stdin by `admin produce`.
const maxLine = 16 << 20

type produceOpts struct {
	key, tag, deliverAt string
	props               []string
	delay               time.Duration
}

// template returns the message every line becomes, without its body.
func (p *produceOpts) template(topic string) (client.Message, error) {
	m := client.Message{Topic: topic, Key: p.key, Tags: p.tag}
	for _, kv := range p.props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return m, fmt.Errorf("--prop %q: want key=value", kv)
		}
		if m.Properties == nil {
			m.Properties = map[string]string{}
		}
		m.Properties[k] = v
	}
	switch {
	case p.delay != 0 && p.deliverAt != "":
		return m, errors.New("--delay and --deliver-at exclude each other")
	case p.delay < 0:
		return m, fmt.Errorf("--delay %v is negative", p.delay)
	case p.delay > 0:
		m.DeliverAt = time.Now().Add(p.delay)
	case p.deliverAt != "":
		t, err := time.Parse(time.RFC3339, p.deliverAt)
		if err != nil {
			return m, fmt.Errorf("--deliver-at %q: want an RFC 3339 time", p.deliverAt)
		}
		m.DeliverAt = t
	}
	return m, nil
}

func produceCommand(o *adminOpts) *cobra.Command {
	p := &produceOpts{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Send stdin to a topic, one message per line",
		Long: `Send every line of stdin to TOPIC as one message, in batches. Exits 0 only
once every line was acknowledged by the broker.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, err := p.template(args[0])
			if err != nil {
				return err
			}
			c, err := o.connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			n, err := produceLines(cmd.Context(), c, tmpl, cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("produce to %s: %d messages acknowledged before: %w", args[0], n, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "produced %d messages to %s\n", n, args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.key, "key", "", "message key (same key, same queue, in order)")
	f.StringVar(&p.tag, "tag", "", "message tag")
	f.StringArrayVar(&p.props, "prop", nil, "property key=value (repeatable)")
	f.DurationVar(&p.delay, "delay", 0, "deliver after this delay")
	f.StringVar(&p.deliverAt, "deliver-at", "", "deliver at this RFC 3339 time")
	return cmd
}

// produceLines sends each line of r as a message like tmpl and returns how
// many were acknowledged once all are; the first failure is returned.
func produceLines(ctx context.Context, c *client.Client, tmpl client.Message, r io.Reader) (int, error) {
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	var (
		mu    sync.Mutex
		acked int
		first error
	)
	done := func(_ client.Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		if err == nil {
			acked++
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			m := tmpl
			m.Body = line
			p.SendAsync(m, done)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := p.Flush(ctx); err != nil {
		return acked, err
	}
	mu.Lock()
	defer mu.Unlock()
	return acked, first
}

// readLine returns the next line without its line ending, refusing lines
// longer than maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = []byte(strings.TrimRight(string(line), "\r\n"))
		return line, err
	}
}
