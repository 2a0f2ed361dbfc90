package collector

import (
	"errors"

	"github.com/sluicehq/sluice/pipelines/config"
)

// openKafkaInput makes a Kafka consumer-group reader for a pipeline.
func (c *Collector) openKafkaInput(cfg config.Collector, pc *config.Pipeline, group string) (input, error) {
	return nil, errors.New("input: kafka is not available in this build yet")
}
