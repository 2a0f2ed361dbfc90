package collector

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/broker/client"
)

// input is where a pipeline reads: a broker consumer or a Kafka reader.
type input interface {
	// Poll blocks until messages are available and returns them.
	Poll(ctx context.Context) ([]client.Message, error)
	// Commit records that everything Poll returned so far is handled.
	Commit(ctx context.Context) error
	Close() error
}

// brokerInput is a member of a consumer group of the broker.
type brokerInput struct {
	cons *client.Consumer

	mu      sync.Mutex
	pending map[uint32]int64
}

func newBrokerInput(c *client.Client, cfg client.ConsumerConfig) (*brokerInput, error) {
	cons, err := c.NewConsumer(cfg)
	if err != nil {
		return nil, err
	}
	return &brokerInput{cons: cons, pending: map[uint32]int64{}}, nil
}

func (b *brokerInput) Poll(ctx context.Context) ([]client.Message, error) {
	msgs, err := b.cons.Poll(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	for q, off := range b.cons.TakePolled() {
		b.pending[q] = off
	}
	b.mu.Unlock()
	return msgs, nil
}

func (b *brokerInput) Commit(ctx context.Context) error {
	b.mu.Lock()
	offs := b.pending
	b.pending = map[uint32]int64{}
	b.mu.Unlock()
	return b.cons.CommitOffsets(ctx, offs)
}

func (b *brokerInput) Close() error { return b.cons.Close() }
