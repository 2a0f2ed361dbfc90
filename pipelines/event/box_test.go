package event

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"testing"
)

// Boxed values behave exactly as Go's own boxes: type switches, equality,
// map keys, reflection and encoding/json see the same thing, and they
// survive garbage collection while the Boxer moves on to new slabs.
func TestBoxerValuesAreOrdinaryInterfaces(t *testing.T) {
	var b Boxer
	const n = 5 * boxChunk
	got := make([]any, 0, 2*n)
	for i := range n {
		got = append(got, b.String("s"+strconv.Itoa(i)), b.Float(float64(i)+0.5))
	}
	b = Boxer{} // drop the Boxer's own references to the slabs
	for range 3 {
		runtime.GC()
	}
	// Allocate over the freed memory, had the slabs been freed.
	junk := make([][]byte, 0, 1000)
	for range 1000 {
		junk = append(junk, []byte("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
	}
	_ = junk
	for i := range n {
		s, f := got[2*i], got[2*i+1]
		if s != any("s"+strconv.Itoa(i)) || s.(string) != "s"+strconv.Itoa(i) {
			t.Fatalf("string %d is %#v", i, s)
		}
		if v, ok := f.(float64); !ok || v != float64(i)+0.5 || f != any(float64(i)+0.5) {
			t.Fatalf("float %d is %#v", i, f)
		}
	}
	m := map[any]int{got[0]: 1, got[1]: 2}
	if m["s0"] != 1 || m[0.5] != 2 {
		t.Errorf("boxed values as map keys: %v", m)
	}
	if reflect.TypeOf(got[0]).Kind() != reflect.String || reflect.ValueOf(got[1]).Float() != 0.5 {
		t.Error("reflection sees other types")
	}
	enc, err := json.Marshal(map[string]any{"s": got[2], "f": got[3], "nan": b.Float(math.Inf(1)) == any(math.Inf(1))})
	if err != nil || string(enc) != `{"f":1.5,"nan":true,"s":"s1"}` {
		t.Errorf("encoding/json: %s %v", enc, err)
	}
	if v := b.String(""); v != any("") {
		t.Errorf("empty string boxes as %#v", v)
	}
	if s := fmt.Sprint(got[4], " ", got[5]); s != "s2 2.5" {
		t.Errorf("fmt prints %q", s)
	}
}

func TestBoxerAllocatesPerSlab(t *testing.T) {
	var b Boxer
	sink := make([]any, 0, boxChunk*2)
	allocs := testing.AllocsPerRun(10, func() {
		sink = sink[:0]
		for i := range boxChunk {
			sink = append(sink, b.String("value"), b.Float(float64(i)))
		}
	})
	// Each run fills one slab of each kind, or crosses into a second.
	if allocs > 4 {
		t.Errorf("%d boxes cost %v allocations, want at most 4", 2*boxChunk, allocs)
	}
}
