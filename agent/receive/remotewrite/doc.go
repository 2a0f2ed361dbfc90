// Package remotewrite is the prometheus_remote_write source: an HTTP
// server accepting Prometheus remote write 1.0 on POST /api/v1/write.
//
// A request is checked and decoded as the spec says, then split into
// one record per target:
//
//	POST /api/v1/write
//	Content-Encoding: snappy
//	Content-Type: application/x-protobuf[;proto=prometheus.WriteRequest]
//
//	body = snappy block( protobuf prompb.WriteRequest )
//	       +-----------------+---------------------------+
//	       | uvarint decoded | snappy literals/copies... |
//	       |     length      |                           |
//	       +-----------------+---------------------------+
//	        read first: over MaxDecodedBytes -> 413, nothing allocated
//
//	series grouped by (job, instance) -> Record{
//	    Key:  job + "/" + instance,
//	    Body: protobuf prompb.WriteRequest (uncompressed),
//	    Properties: Fields + content-type=source.ContentTypeWriteRequest
//	                + source=Name }
//
// Answers: 204 only after the batch's ack callback reported nil (a
// Prometheus server retries anything else, so no sample it was told was
// stored can be lost); 400 for a body that does not decode (Prometheus
// drops it: retrying would not help); 405, 413, 415 as HTTP says; 503 when
// the emit or ack fails or does not come within AckTimeout, or the
// source is stopping, so the sender retries later.
//
// Metadata entries of a request (HELP/TYPE) are not forwarded: they
// belong to no target, and the metric records are samples only.
package remotewrite
