package protocol

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the generated seed corpora in testdata/fuzz")

// TestFuzzSeeds checks that the generated seeds in testdata/fuzz are what
// the encoders write today; with -update-seeds it writes them. Inputs the
// fuzzers found are kept beside them under their hash names.
func TestFuzzSeeds(t *testing.T) {
	for _, s := range fuzzSeeds(t) {
		path := filepath.Join("testdata", "fuzz", s.target, s.name)
		want := corpusFile(s.args...)
		if *updateSeeds {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s is missing or stale (%v): go test -run TestFuzzSeeds -update-seeds ./broker/protocol/", path, err)
		}
	}
}

type fuzzSeed struct {
	target, name string
	args         []any
}

// corpusFile encodes a seed as "go test fuzz v1" does.
func corpusFile(args ...any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, a := range args {
		switch a := a.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", a)
		case string:
			b = fmt.Appendf(b, "string(%q)\n", a)
		case byte:
			b = fmt.Appendf(b, "byte(%q)\n", a)
		case int64:
			b = fmt.Appendf(b, "int64(%d)\n", a)
		default:
			panic(fmt.Sprintf("seed of type %T", a))
		}
	}
	return b
}

func fuzzSeeds(t *testing.T) []fuzzSeed {
	var seeds []fuzzSeed
	add := func(target, name string, args ...any) {
		seeds = append(seeds, fuzzSeed{target, name, args})
	}
	frameSeeds(add)
	bodySeeds(t, add)
	batchSeeds(add)
	add("FuzzParseMessageID", "valid", MessageID(123456, 7))
	add("FuzzParseMessageID", "lower-case", "0000000000abcdef0000ffff")
	add("FuzzParseMessageID", "negative", "800000000000000000000000")
	add("FuzzParseMessageID", "short", "0001")
	return seeds
}

type addSeed func(target, name string, args ...any)

func frameSeeds(add addSeed) {
	hello, _ := MarshalJSON(&Hello{Version: 1, ClientName: "seed"})
	helloFrame := AppendFrame(nil, Header{Op: OpHello, RequestID: 1}, hello)
	errFrame := AppendFrame(nil, Header{Op: OpFetch, Flags: FlagResponse | FlagError, RequestID: 2},
		Errorf(CodeUnknownTopic, "no topic x").Append(nil))
	for _, target := range []string{"FuzzParseFrameHeader", "FuzzFrameReader"} {
		add(target, "hello", helloFrame)
		add(target, "error-response", errFrame)
		add(target, "too-large", header(1<<30, 1, byte(OpProduce), 0, 3))
		add(target, "bad-version", header(12, 2, byte(OpHello), 0, 1))
		add(target, "unknown-flags", header(12, 1, byte(OpHello), 4, 1))
		add(target, "short", helloFrame[:10])
	}
	add("FuzzFrameReader", "three-frames", append(append(bytes.Clone(helloFrame), errFrame...),
		AppendFrame(nil, Header{Op: OpProduce, RequestID: 3}, nil)...))
	add("FuzzFrameReader", "truncated-body", helloFrame[:len(helloFrame)-3])
	add("FuzzFrameReader", "empty", []byte{})
}

// seedBatch is a compressed batch of 20 messages with keys, tags and a
// property.
func seedBatch() (*BatchBuilder, Batch) {
	b := new(BatchBuilder)
	b.Reset("orders")
	for i := range 20 {
		b.Add(&Message{Key: fmt.Sprint("k", i%3), Tags: "created", Body: fmt.Appendf(nil, "order %d", i),
			Properties: map[string]string{"trace": "t"}}, 1700000000000+int64(i))
	}
	return b, b.Finish(true, nil)
}

func bodySeeds(t *testing.T, add addSeed) {
	_, batch := seedBatch()
	produce := ProduceRequest{Topic: "orders", Queue: 2, ProducerID: 9, Sequence: 1, Count: batch.Count,
		Attr: batch.Attr, FirstBornMs: batch.FirstBornMs, LastBornMs: batch.LastBornMs, TagBloom: batch.TagBloom,
		Keys: batch.Keys, PayloadCRC: PayloadCRC(batch.Payload), Payload: batch.Payload}
	produceEnc := produce.Append(nil)
	add("FuzzProduceRequest", "batch-lz4-keys", produceEnc)
	add("FuzzProduceRequest", "no-keys", (&ProduceRequest{Topic: "t", Count: 1, Payload: []byte("raw")}).Append(nil))
	add("FuzzProduceRequest", "empty", []byte{})
	add("FuzzProduceRequest", "truncated", produceEnc[:len(produceEnc)-1])
	add("FuzzProduceRequest", "hostile-key-count", append(bytes.Clone(produceEnc[:2+57]), 0xff, 0xff, 0xff, 0xff, 0x0f))

	add("FuzzProduceResponse", "ack", (&ProduceResponse{BaseOffset: 100, Pos: 4096, StoredAtMs: 1700000000000}).Append(nil))
	add("FuzzProduceResponse", "duplicate", (&ProduceResponse{BaseOffset: 1, Duplicate: true}).Append(nil))

	add("FuzzFetchRequest", "tags", (&FetchRequest{Topic: "orders", Queue: 1, Offset: 10, MaxBytes: 1 << 20, MaxWaitMs: 500, Tags: "A || B"}).Append(nil))
	add("FuzzFetchRequest", "member", (&FetchRequest{Topic: "orders", Queue: 2, Offset: 7, Group: "g", MemberID: "m-1"}).Append(nil))
	add("FuzzFetchRequest", "empty", []byte{})

	recs := encodeRecords(t, 3)
	add("FuzzFetchResponse", "records", (&FetchResponse{Next: 30, Min: 0, High: 40, Positions: []int64{0, 512, 1024}, Records: recs}).Append(nil))
	flipped := bytes.Clone(recs)
	flipped[len(flipped)-5] ^= 1
	add("FuzzFetchResponse", "bit-flipped", (&FetchResponse{Next: 30, High: 40, Records: flipped}).Append(nil))
	add("FuzzFetchResponse", "no-records", (&FetchResponse{Next: 5, Min: 5, High: 5}).Append(nil))

	add("FuzzErrorBody", "fenced", Errorf(CodeFenced, "generation %d is stale", 3).Append(nil))
	add("FuzzErrorBody", "code-zero", (&Error{Message: "x"}).Append(nil))
	add("FuzzErrorBody", "long-message", (&Error{Code: CodeUnknown, Message: string(bytes.Repeat([]byte("m"), 200))}).Append(nil))
}

func batchSeeds(add addSeed) {
	b, batch := seedBatch()
	add("FuzzDecompressAndIterate", "lz4", byte(batch.Attr), batch.FirstBornMs, batch.Payload)
	raw := b.Finish(false, nil)
	add("FuzzDecompressAndIterate", "raw", byte(raw.Attr), raw.FirstBornMs, raw.Payload)
	b.Reset("t")
	for _, born := range []int64{50, 10, 90, 0} {
		b.Add(&Message{Key: "k", Body: []byte("b")}, born)
	}
	b.Add(&Message{}, 60)
	raw = b.Finish(false, nil)
	add("FuzzDecompressAndIterate", "born-deltas", byte(0), raw.FirstBornMs, raw.Payload)
	add("FuzzDecompressAndIterate", "unknown-flags", byte(0), int64(0), rawMessage(1, 0, "", "", "#0", ""))
	add("FuzzDecompressAndIterate", "two-properties", byte(0), int64(5), rawMessage(0, 0, "k", "t", "#2", "a", "1", "a", "2", "body"))
	add("FuzzDecompressAndIterate", "raw-length-too-large", byte(AttrLZ4), int64(0), append(binary.AppendUvarint(nil, MaxBatchRaw+1), 0x10, 'x'))
	add("FuzzDecompressAndIterate", "ratio-lie", byte(AttrLZ4), int64(0), append(binary.AppendUvarint(nil, 100000), 0x10, 'x'))
	add("FuzzDecompressAndIterate", "raw-length-zero", byte(AttrLZ4), int64(0), []byte("\x000000"))
}
