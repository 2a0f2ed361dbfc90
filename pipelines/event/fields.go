package event

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Fields are a log event's fields: names, each once, with their values,
// in the order they were first set. A slice rather than a map: an event
// has a handful of fields, which a scan finds faster than a map's hash,
// and filling, reading and writing out a map were most of a pipeline's
// cost. Past maxScanned fields an index keeps lookups constant. The zero
// value is empty and ready.
type Fields struct {
	list  []Field
	index map[string]int // when len(list) > maxScanned
}

// Field is one field.
type Field struct {
	Name  string
	Value any
}

// maxScanned is the most fields looked up by a scan.
const maxScanned = 32

// FieldsOf returns fields holding m's entries, sorted by name.
func FieldsOf(m map[string]any) Fields {
	var f Fields
	for _, k := range slices.Sorted(mapKeys(m)) {
		f.Set(k, m[k])
	}
	return f
}

func mapKeys(m map[string]any) iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Len returns the number of fields.
func (f *Fields) Len() int { return len(f.list) }

// find returns the position of name, or -1.
func (f *Fields) find(name string) int {
	if f.index != nil {
		if i, ok := f.index[name]; ok {
			return i
		}
		return -1
	}
	for i := range f.list {
		if f.list[i].Name == name {
			return i
		}
	}
	return -1
}

// Get returns the value of the field name and whether there is one.
func (f *Fields) Get(name string) (any, bool) {
	if i := f.find(name); i >= 0 {
		return f.list[i].Value, true
	}
	return nil, false
}

// Value returns the value of the field name, nil when there is none.
func (f *Fields) Value(name string) any {
	v, _ := f.Get(name)
	return v
}

// Has reports whether there is a field name.
func (f *Fields) Has(name string) bool { return f.find(name) >= 0 }

// Set sets the field name to v: in its place when it exists, last
// otherwise.
func (f *Fields) Set(name string, v any) {
	if i := f.find(name); i >= 0 {
		f.list[i].Value = v
		return
	}
	f.list = append(f.list, Field{name, v})
	switch {
	case f.index != nil:
		f.index[name] = len(f.list) - 1
	case len(f.list) > maxScanned:
		f.reindex()
	}
}

// Delete removes the field name and returns its value.
func (f *Fields) Delete(name string) (any, bool) {
	i := f.find(name)
	if i < 0 {
		return nil, false
	}
	v := f.list[i].Value
	f.list = slices.Delete(f.list, i, i+1)
	if f.index != nil {
		f.reindex()
	}
	return v, true
}

func (f *Fields) reindex() {
	if len(f.list) <= maxScanned {
		f.index = nil
		return
	}
	f.index = make(map[string]int, len(f.list))
	for i := range f.list {
		f.index[f.list[i].Name] = i
	}
}

// All returns the fields in the order they were first set.
func (f *Fields) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, fl := range f.list {
			if !yield(fl.Name, fl.Value) {
				return
			}
		}
	}
}

// List returns the fields in the order they were first set; the caller
// must not change the slice.
func (f *Fields) List() []Field { return f.list }

// Map returns the fields as a new map.
func (f *Fields) Map() map[string]any {
	m := make(map[string]any, len(f.list))
	for _, fl := range f.list {
		m[fl.Name] = fl.Value
	}
	return m
}

// Reset empties f and has it keep its fields in buf's array (its length
// is ignored; its elements are written over) until they outgrow it.
func (f *Fields) Reset(buf []Field) { f.list, f.index = buf[:0], nil }

// clone copies f whole, strings included (see Event.Clone).
func (f *Fields) clone() Fields {
	var c Fields
	c.list = make([]Field, len(f.list))
	for i, fl := range f.list {
		c.list[i] = Field{strings.Clone(fl.Name), CloneValue(fl.Value)}
	}
	c.reindex()
	return c
}

// MarshalJSON writes the fields as one JSON object, names sorted.
func (f Fields) MarshalJSON() ([]byte, error) {
	var arr [16]Field
	es, _ := orderFields(nil, arr[:0], &f)
	dst := []byte{'{'}
	for i, fl := range es {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(AppendString(dst, fl.Name), ':')
		dst = AppendValue(dst, fl.Value)
	}
	return append(dst, '}'), nil
}

// UnmarshalJSON sets f to a JSON object's members, in the order of their
// names, as encoding/json decodes them.
func (f *Fields) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*f = FieldsOf(m)
	return nil
}

// String formats the fields as map[...] does, for messages and tests.
func (f Fields) String() string { return fmt.Sprint(f.Map()) }
