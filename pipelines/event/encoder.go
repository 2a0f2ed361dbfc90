package event

import (
	"slices"
	"strings"
)

// JSONEncoder writes what AppendJSON writes, faster for a stream of
// events with the same field and meta names, as a sink's usually are:
// it remembers the sorted names of the last event, each already written
// as a JSON key, and, when the next has as many names and each of them,
// looks the values up in that order instead of collecting, sorting and
// escaping the names again (a third of a file sink's CPU). It is used by
// one goroutine at a time; the zero value is ready.
type JSONEncoder struct {
	fields fieldOrder
	meta   names
}

// fieldOrder is the remembered order of a log event's fields: their
// names in the order the event holds them, and where each goes once
// sorted. Fields filled the same way event after event (by one parser)
// come in the same order, and each name is checked with one comparison
// of strings that are mostly the same string.
type fieldOrder struct {
	names
	held []string // the names as the fields list them
	at   []int    // held[i]'s place in sorted
}

// names is a remembered sorted set of names with their keys.
type names struct {
	sorted []string
	keys   []string // "name": for each of sorted, escaped
	hasTS  bool     // "timestamp" is one of them
}

// Append appends e as AppendJSON does.
func (enc *JSONEncoder) Append(dst []byte, e *Event) []byte { return appendEvent(dst, e, enc) }

func (enc *JSONEncoder) fieldOrder() *fieldOrder {
	if enc == nil {
		return nil
	}
	return &enc.fields
}

// orderFields appends f's fields to es sorted by name, in the order fo
// remembers when f lists the same names in the same order, and then
// remembers it. It returns fo's keys for the entries, or nil when fo is
// nil: a nil fo sorts and remembers nothing.
func orderFields(fo *fieldOrder, es []Field, f *Fields) ([]Field, []string) {
	list := f.List()
	if fo != nil && len(list) == len(fo.held) && len(list) <= cap(es) {
		same := true
		for i := range list {
			if list[i].Name != fo.held[i] {
				same = false
				break
			}
		}
		if same {
			es = es[:len(list)]
			for i := range list {
				es[fo.at[i]] = list[i]
			}
			return es, fo.keys
		}
	}
	es = append(es, list...)
	sortFields(es)
	if fo == nil {
		return es, nil
	}
	fo.sorted, fo.keys, fo.hasTS = fo.sorted[:0], fo.keys[:0], false
	for _, e := range es {
		// Copies, as in order: the names may be bytes a later batch reuses.
		fo.sorted = append(fo.sorted, strings.Clone(e.Name))
		fo.keys = append(fo.keys, string(append(AppendString(nil, e.Name), ':')))
		fo.hasTS = fo.hasTS || e.Name == "timestamp"
	}
	fo.held, fo.at = fo.held[:0], fo.at[:0]
	for _, fl := range list {
		i, _ := slices.BinarySearch(fo.sorted, fl.Name)
		fo.held = append(fo.held, fo.sorted[i])
		fo.at = append(fo.at, i)
	}
	return es, fo.keys
}

// sortFields sorts fields by name: insertion sort, as sorted does.
func sortFields(es []Field) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Name < es[j-1].Name; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func (enc *JSONEncoder) metaNames() *names {
	if enc == nil {
		return nil
	}
	return &enc.meta
}

// order appends m's entries to es sorted by name: in the order of ns
// when m has just those names, sorted otherwise, and then remembered in
// ns. It returns ns's keys for the entries, or nil when ns is nil: a
// nil ns sorts and remembers nothing.
func order[V any](ns *names, es []entry[V], m map[string]V) ([]entry[V], []string) {
	if ns == nil {
		return sorted(es, m), nil
	}
	if len(ns.sorted) == len(m) && len(m) <= cap(es) {
		ok := true
		for _, k := range ns.sorted {
			var v V
			if v, ok = m[k]; !ok {
				break
			}
			es = append(es, entry[V]{k, v})
		}
		if ok {
			return es, ns.keys
		}
		es = es[:0]
	}
	es = sorted(es, m)
	ns.sorted, ns.keys, ns.hasTS = ns.sorted[:0], ns.keys[:0], false
	for _, e := range es {
		// A copy: the name may be bytes of a batch that will be reused
		// (parse_logfmt's keys are substrings of the line), and a
		// remembered name whose bytes changed would look up another.
		ns.sorted = append(ns.sorted, strings.Clone(e.k))
		ns.keys = append(ns.keys, string(append(AppendString(nil, e.k), ':')))
		ns.hasTS = ns.hasTS || e.k == "timestamp"
	}
	return es, ns.keys
}
