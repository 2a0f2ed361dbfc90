// Package kafkaout is the agent's `output: kafka`: a ship.Sender that
// writes records to Kafka through kafka-go instead of to the sluice
// broker, for sites that already run Kafka.
//
// Every message is written with acks=all and lz4 compression, keyed as
// the source keyed it (kafka-go's hash balancer puts one key in one
// partition, so one file's lines stay in order), with its properties as
// headers. A write that Kafka refuses is retried with back-off until it
// succeeds or the Writer is closed: the shipper's spool and the sources'
// checkpoints rely on a record being either delivered or reported as not
// delivered, never dropped. A retried message may overtake later ones of
// its key (kafka-go retries whole partition batches first, so this needs
// a failure that outlasts those retries).
package kafkaout
