package groups

import (
	"bytes"
	"testing"
)

// FuzzDecodeState feeds arbitrary bytes to the state file decoder: it must
// never panic, and whatever it accepts must encode to a file that decodes
// to the same state.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version": 1, "subscriptions": []}`))
	f.Add([]byte(`{"version": 1, "subscriptions": [{"group": "g", "topic": "t", "mode": "clustering",` +
		`"start_from": "latest", "generation": 3, "offsets": [{"queue": 0, "offset": 5}, {"queue": 7, "offset": 9}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		subs, err := decodeState(b)
		if err != nil {
			return
		}
		c := &Coordinator{subs: subscriptionsFromState(subs)}
		first, err := c.encodeLocked()
		if err != nil {
			t.Fatalf("encode accepted state: %v", err)
		}
		again, err := decodeState(first)
		if err != nil {
			t.Fatalf("decode of encoded state: %v\n%s", err, first)
		}
		c.subs = subscriptionsFromState(again)
		second, err := c.encodeLocked()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("encode/decode not stable:\n%s\n%s", first, second)
		}
	})
}
