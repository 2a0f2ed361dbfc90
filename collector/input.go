package collector

import (
	"context"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/collector/kafkain"
)

// input is where a pipeline reads: a broker consumer or a Kafka reader.
type input interface {
	// Poll blocks until messages are available and returns them with a
	// token that commits exactly them (and what earlier Polls returned).
	Poll(ctx context.Context) ([]client.Message, commitToken, error)
	// Commit records that everything up to tok is handled.
	Commit(ctx context.Context, tok commitToken) error
	// Overlaps reports whether Poll may run again before the previous
	// batch is committed: the pipeline then processes the next batch
	// while its sinks write the previous one.
	Overlaps() bool
	Close() error
}

// commitToken is what an input needs to commit one batch.
type commitToken any

// brokerInput is a member of a consumer group of the broker. Its tokens
// are the next offsets per queue of each batch, so a batch can be
// committed while the next one is already polled.
type brokerInput struct{ cons *client.Consumer }

func newBrokerInput(c *client.Client, cfg client.ConsumerConfig) (*brokerInput, error) {
	cons, err := c.NewConsumer(cfg)
	if err != nil {
		return nil, err
	}
	return &brokerInput{cons: cons}, nil
}

func (b *brokerInput) Poll(ctx context.Context) ([]client.Message, commitToken, error) {
	msgs, err := b.cons.Poll(ctx)
	if err != nil {
		return nil, nil, err
	}
	return msgs, b.cons.TakePolled(), nil
}

func (b *brokerInput) Commit(ctx context.Context, tok commitToken) error {
	offs, _ := tok.(map[uint32]int64)
	return b.cons.CommitOffsets(ctx, offs)
}

func (b *brokerInput) Overlaps() bool { return true }
func (b *brokerInput) Close() error   { return b.cons.Close() }

// kafkaInput adapts a Kafka reader, which commits everything its last
// Poll returned: its batches do not overlap.
type kafkaInput struct{ r *kafkain.Reader }

func (k kafkaInput) Poll(ctx context.Context) ([]client.Message, commitToken, error) {
	msgs, err := k.r.Poll(ctx)
	return msgs, nil, err
}

func (k kafkaInput) Commit(ctx context.Context, _ commitToken) error { return k.r.Commit(ctx) }
func (k kafkaInput) Overlaps() bool                                  { return false }
func (k kafkaInput) Close() error                                    { return k.r.Close() }
