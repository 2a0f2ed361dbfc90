package collector

import (
	"github.com/sluicehq/sluice/collector/kafkain"
	"github.com/sluicehq/sluice/pipelines/config"
)

// openKafkaInput makes a Kafka consumer-group reader for a pipeline
// (`input: kafka`): the pipeline's topic is a Kafka topic, its group a
// Kafka consumer group.
func (c *Collector) openKafkaInput(cfg config.Collector, pc *config.Pipeline, group string) (input, error) {
	r, err := kafkain.New(kafkain.Config{Brokers: cfg.Kafka.Brokers, Group: group, Topic: pc.From.Topic,
		StartFrom: pc.From.StartFrom, TLS: cfg.Kafka.TLS, Logger: c.lg.With("input", "kafka", "topic", pc.From.Topic)})
	if err != nil {
		return nil, err
	}
	return kafkaInput{r}, nil
}
