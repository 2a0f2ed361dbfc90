// Package kafkain is the collector's `input: kafka`: a member of a Kafka
// consumer group (through kafka-go) that hands the collector's pipelines
// messages in the shape of the sluice broker's, so the same pipelines run
// on Kafka when one broker box is not enough.
//
// # Shape of a message
//
// A Kafka record becomes a client.Message with Topic, Key, Body (the
// value), Properties (the headers; a repeated header keeps its last
// value), BornAt (the record's timestamp), Queue (the partition) and
// Offset. ID, Tags and StoredAt are empty: Kafka has no such things.
//
// # At-least-once
//
// Offsets are committed only by Commit, synchronously, and Commit covers
// exactly what Poll returned since the previous Commit: the collector
// calls it once the sinks accepted those messages. A reader closed (or
// crashed) before Commit leaves the group's offsets where they were, so
// the group hands those messages again. After a rebalance a Commit may
// name a partition that moved to another member; Kafka takes the offset,
// which is at most behind that member's own, so messages may be handed
// twice but never skipped.
//
// # Goroutines and memory
//
// Besides kafka-go's own, a Reader runs one goroutine that fetches
// messages into a channel of 1000, so that Poll can return what is
// already there without waiting: Poll blocks only for the first message,
// then takes what is buffered, up to 1000 messages or about 4 MiB.
// Close stops the goroutine and the kafka-go reader, and leaves the
// group.
package kafkain
