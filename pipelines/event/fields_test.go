package event

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// Fields behave as a map does, whatever the operations, below and past
// the count where an index takes over from scanning; they keep the order
// names were first set in.
func TestFieldsAgreeWithAMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var f Fields
	m := map[string]any{}
	var order []string
	for step := range 20000 {
		name := fmt.Sprint("f", rnd.IntN(1+rnd.IntN(80)))
		switch rnd.IntN(4) {
		case 0:
			v1, ok1 := f.Delete(name)
			v2, ok2 := m[name]
			delete(m, name)
			if ok1 != ok2 || v1 != v2 {
				t.Fatalf("step %d: Delete(%s) = %v %v, map has %v %v", step, name, v1, ok1, v2, ok2)
			}
			for i, n := range order {
				if n == name {
					order = append(order[:i], order[i+1:]...)
					break
				}
			}
		default:
			if _, ok := m[name]; !ok {
				order = append(order, name)
			}
			f.Set(name, step)
			m[name] = step
		}
		if f.Len() != len(m) || !reflect.DeepEqual(f.Map(), m) {
			t.Fatalf("step %d: fields %v, map %v", step, f.Map(), m)
		}
		for i, fl := range f.List() {
			if fl.Name != order[i] {
				t.Fatalf("step %d: field %d is %s, want %s", step, i, fl.Name, order[i])
			}
			if v, ok := f.Get(fl.Name); !ok || v != m[fl.Name] || !f.Has(fl.Name) || f.Value(fl.Name) != v {
				t.Fatalf("step %d: Get(%s) = %v %v", step, fl.Name, v, ok)
			}
		}
		if f.Has("absent") || f.Value("absent") != nil {
			t.Fatal("an absent name is found")
		}
		if rnd.IntN(500) == 0 {
			f.Reset(make([]Field, 3, 16))
			clear(m)
			order = order[:0]
		}
	}
}

func TestFieldsJSON(t *testing.T) {
	f := FieldsOf(map[string]any{"b": 1.0, "a": "x", "n": map[string]any{"k": []any{true, nil}}})
	b, err := json.Marshal(f)
	if err != nil || string(b) != `{"a":"x","b":1,"n":{"k":[true,null]}}` {
		t.Fatalf("Marshal: %s %v", b, err)
	}
	var g Fields
	if err := json.Unmarshal(b, &g); err != nil || !reflect.DeepEqual(g.Map(), f.Map()) {
		t.Fatalf("Unmarshal: %v %v", g, err)
	}
	if names := fmt.Sprintln(g.List()[0].Name, g.List()[1].Name, g.List()[2].Name); names != "a b n\n" {
		t.Fatalf("FieldsOf order: %s", names)
	}
}
