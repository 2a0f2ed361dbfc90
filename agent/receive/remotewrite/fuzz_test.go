package remotewrite

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// FuzzDecodeWriteRequest feeds arbitrary bodies to the decoder; a body
// that decodes must split into records that decode again, with every
// series kept.
func FuzzDecodeWriteRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		wr, err := DecodeWriteRequest(body, 1<<20)
		if err != nil {
			return
		}
		recs, _, err := splitByTarget(wr, "t", nil, time.Time{})
		if err != nil {
			t.Fatalf("split a decoded request: %v", err)
		}
		n := 0
		for _, r := range recs {
			var got prompb.WriteRequest
			if err := got.Unmarshal(r.Body); err != nil {
				t.Fatalf("record %q does not decode: %v", r.Key, err)
			}
			n += len(got.Timeseries)
		}
		if n != len(wr.Timeseries) {
			t.Fatalf("%d series in records, %d in the request", n, len(wr.Timeseries))
		}
	})
}
