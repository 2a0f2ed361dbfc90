package record

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoders. They must never panic,
// must fail only with ErrCorrupt, and a record they accept must be one Encode
// writes byte for byte and Validate accepts: the reader is not more lenient
// than the writer. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		// The fuzzer cannot forge a CRC, so without help it would rarely get
		// past the checksum. Reseal a copy to reach the field checks too.
		if n, err := PeekLength(data); err == nil && n <= len(data) {
			sealed := bytes.Clone(data[:n])
			Seal(sealed)
			checkDecode(t, sealed)
		}
		if _, err := DecodeHeader(data, nil); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeHeader error %v is not ErrCorrupt", err)
		}
	})
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	h, payload, err := Decode(data, nil)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode error %v is not ErrCorrupt", err)
		}
		return
	}
	if err := h.Validate(len(payload)); err != nil {
		t.Fatalf("Decode accepted a record that Validate rejects: %v", err)
	}
	if got := Encode(nil, &h, payload); !bytes.Equal(got, data[:h.Length]) {
		t.Fatalf("re-encoding the decoded record gives\n%x\nthe input was\n%x", got, data[:h.Length])
	}
}
