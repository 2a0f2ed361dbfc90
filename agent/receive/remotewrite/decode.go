package remotewrite

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/source"
)

// ErrTooLarge is returned by DecodeWriteRequest for a block announcing
// more than the allowed decoded length.
var ErrTooLarge = errors.New("decoded body too large")

// DecodeWriteRequest decodes a remote write 1.0 body: a snappy block of
// a protobuf WriteRequest. It reads the decoded length the block
// announces first and returns ErrTooLarge above maxDecoded, before
// allocating for it.
func DecodeWriteRequest(body []byte, maxDecoded int) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("snappy header: %w", err)
	}
	if n > maxDecoded {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, n, maxDecoded)
	}
	raw, err := snappy.Decode(make([]byte, n), body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("protobuf WriteRequest: %w", err)
	}
	return &wr, nil
}

// targetKey is the record key of a series: job + "/" + instance, the
// same key host metrics and scrape sources use, so one target's samples
// stay in order on one queue.
func targetKey(ls []prompb.Label) string {
	var job, instance string
	for _, l := range ls {
		switch l.Name {
		case "job":
			job = l.Value
		case "instance":
			instance = l.Value
		}
	}
	return job + "/" + instance
}

// splitByTarget groups wr's series into one record per target, in the
// order each target first appears.
func splitByTarget(wr *prompb.WriteRequest, topic string, props map[string]string, now time.Time) ([]source.Record, int, error) {
	groups := make(map[string][]prompb.TimeSeries)
	var order []string
	samples := 0
	for _, ts := range wr.Timeseries {
		k := targetKey(ts.Labels)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], ts)
		samples += len(ts.Samples) + len(ts.Histograms)
	}
	recs := make([]source.Record, 0, len(order))
	for _, k := range order {
		out := prompb.WriteRequest{Timeseries: groups[k]}
		body, err := out.Marshal()
		if err != nil {
			return nil, 0, fmt.Errorf("marshal target %q: %w", k, err)
		}
		recs = append(recs, source.Record{
			Topic: topic, Key: k, Body: body, Properties: maps.Clone(props), Time: now,
		})
	}
	return recs, samples, nil
}
