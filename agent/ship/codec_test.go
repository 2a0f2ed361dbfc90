package ship

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/protocol"
)

func TestBatchRoundTrip(t *testing.T) {
	shared := map[string]string{"host": "h"}
	recs := []source.Record{
		{Topic: "logs", Key: "h/f", Body: []byte("a line"), Properties: map[string]string{"host": "h", "file": "/var/log/x"},
			Time: time.UnixMilli(1764300000123)},
		{Topic: "metrics", Body: bytes.Repeat([]byte{0, 1, 2}, 1000)},
		{Topic: "t", Body: []byte{}},
		// Extra is read back among the properties, replacing one of its name.
		{Topic: "logs", Body: []byte("x"), Properties: shared, Extra: source.Property{Name: "offset", Value: "7"}},
		{Topic: "logs", Body: []byte("y"), Properties: map[string]string{"offset": "old"}, Extra: source.Property{Name: "offset", Value: "9"}},
		{Topic: "logs", Body: []byte("z"), Extra: source.Property{Name: "offset", Value: "11"}},
		// Shared too, under Properties and Extra.
		{Topic: "logs", Body: []byte("s"), Shared: protocol.NewProps(map[string]string{"host": "h", "file": "f"}),
			Properties: map[string]string{"file": "g"}, Extra: source.Property{Name: "offset", Value: "13"}},
	}
	got, err := decodeBatch(encodeBatch(nil, recs))
	if err != nil {
		t.Fatal(err)
	}
	recs[2].Body = []byte{}
	recs[3].Properties, recs[3].Extra = map[string]string{"host": "h", "offset": "7"}, source.Property{}
	recs[4].Properties, recs[4].Extra = map[string]string{"offset": "9"}, source.Property{}
	recs[5].Properties, recs[5].Extra = map[string]string{"offset": "11"}, source.Property{}
	recs[6].Properties, recs[6].Shared, recs[6].Extra = map[string]string{"host": "h", "file": "g", "offset": "13"}, nil, source.Property{}
	if shared["offset"] != "" {
		t.Fatal("encoding modified a shared map")
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, recs)
	}
}

func TestBatchDecodeErrors(t *testing.T) {
	good := encodeBatch(nil, []source.Record{{Topic: "t", Key: "k", Body: []byte("body"), Properties: map[string]string{"a": "b"}}})
	for i := range len(good) {
		if _, err := decodeBatch(good[:i]); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("truncated at %d: %v, want ErrBadBatch", i, err)
		}
	}
	if _, err := decodeBatch(append(append([]byte{}, good...), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, err := decodeBatch([]byte{2, 0}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("bad version: %v", err)
	}
	// A count far beyond what the bytes can hold is refused up front.
	if _, err := decodeBatch([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil || !strings.Contains(err.Error(), "cannot fit") {
		t.Fatalf("hostile count: %v", err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(nil, []source.Record{{Topic: "logs", Key: "k", Body: []byte("line"), Properties: map[string]string{"host": "a"}, Time: time.UnixMilli(5)}}))
	f.Add(encodeBatch(nil, nil))
	f.Add([]byte{1, 3, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeBatch(b)
		if err != nil {
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("error %v does not wrap ErrBadBatch", err)
			}
			return
		}
		again, err := decodeBatch(encodeBatch(nil, recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}
