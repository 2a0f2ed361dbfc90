package record

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCombineCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 63, 92, 1000, 70001} {
		for _, m := range []int{0, 1, 3, 92, 4096, 100003} {
			a, b := make([]byte, n), make([]byte, m)
			for i := range a {
				a[i] = byte(rng.Uint32())
			}
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			want := crc32.Checksum(append(append([]byte{}, a...), b...), castagnoli)
			got := combineCRC(crc32.Checksum(a, castagnoli), PayloadCRC(b), int64(m))
			if got != want {
				t.Fatalf("combine(%d bytes, %d bytes) = %#x, want %#x", n, m, got, want)
			}
		}
	}
}

func TestSealWithCRCMatchesSealParts(t *testing.T) {
	payload := []byte("the payload, stored as the producer sent it")
	h := Header{Topic: "t", Queue: 3, Count: 2, BaseOffset: 77, StoredAtMs: 5}
	a := AppendHeader(nil, &h, len(payload))
	b := append([]byte{}, a...)
	SealParts(a, payload)
	SealWithCRC(b, PayloadCRC(payload), len(payload))
	if string(a) != string(b) {
		t.Fatalf("SealWithCRC header differs from SealParts")
	}
	if _, _, err := Decode(append(b, payload...), nil); err != nil {
		t.Fatalf("decode sealed record: %v", err)
	}
}
