package event

import "strings"

// JSONEncoder writes what AppendJSON writes, faster for a stream of
// events with the same field and meta names, as a sink's usually are:
// it remembers the sorted names of the last event, each already written
// as a JSON key, and, when the next has as many names and each of them,
// looks the values up in that order instead of collecting, sorting and
// escaping the names again (a third of a file sink's CPU). It is used by
// one goroutine at a time; the zero value is ready.
type JSONEncoder struct {
	fields, meta names
}

// names is a remembered sorted set of names with their keys.
type names struct {
	sorted []string
	keys   []string // "name": for each of sorted, escaped
	hasTS  bool     // "timestamp" is one of them
}

// Append appends e as AppendJSON does.
func (enc *JSONEncoder) Append(dst []byte, e *Event) []byte { return appendEvent(dst, e, enc) }

func (enc *JSONEncoder) fieldNames() *names {
	if enc == nil {
		return nil
	}
	return &enc.fields
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
