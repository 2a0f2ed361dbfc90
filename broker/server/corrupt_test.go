package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

// A batch damaged on disk is never served: a fetch that starts at it
// answers without records and with Next past it, so consumers go on.
func TestFetchSkipsCorruptBatch(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)
	bad := c.mustProduce(batch("t", 0, bodies("doomed", "too")...))
	good := c.mustProduce(batch("t", 0, bodies("fine")...))
	shutdown(t, s)

	// Flip the last payload byte of the first record, which ends where
	// the second starts. The clean shutdown's checkpoint means recovery
	// does not re-scan it, so the read is what finds it.
	seg := filepath.Join(cfg.DataDir, "store", "commitlog", "00000000000000000000.seg")
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], good.Pos-1); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b[:], good.Pos-1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s = start(t, cfg)
	c = connect(t, s)
	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Offset: 0})
	if len(resp.Records) != 0 || resp.Next != 2 {
		t.Fatalf("fetch at the corrupt batch: %d bytes, next %d; want none and 2", len(resp.Records), resp.Next)
	}
	got := decodeFetch(t, c.mustFetch(protocol.FetchRequest{Topic: "t", Offset: resp.Next}), resp.Next)
	if len(got) != 1 || string(got[0].Body) != "fine" {
		t.Fatalf("after the corrupt batch: %v", got)
	}
	err = c.callJSON(protocol.OpGetMessage, protocol.GetMessage{ID: protocol.MessageID(bad.Pos, 0)}, nil)
	wantCode(t, err, protocol.CodeCorrupt)
}
