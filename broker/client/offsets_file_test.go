package client

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOffsetsFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	got, err := readOffsetsFile(path, "g", "t")
	if err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v, %v; want no progress", got, err)
	}
	want := map[uint32]int64{0: 12, 3: 7, 4294967295: 1}
	if err := writeOffsetsFile(path, "g", "t", want); err != nil {
		t.Fatal(err)
	}
	if err := writeOffsetsFile(path, "g", "t", want); err != nil { // replaces
		t.Fatal(err)
	}
	got, err = readOffsetsFile(path, "g", "t")
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("read back %v, %v; want %v", got, err, want)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries (%v): temporary files left behind", len(entries), err)
	}
	if _, err := readOffsetsFile(path, "other", "t"); err == nil || !strings.Contains(err.Error(), "belongs to group") {
		t.Fatalf("file of another group: %v, want a refusal", err)
	}
	if err := os.WriteFile(path, []byte(`{"group":"g","topic":"t","offsets":{"x":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readOffsetsFile(path, "g", "t"); err == nil {
		t.Fatal("a bad queue number was accepted")
	}
}
