package event

// JSONEncoder writes what AppendJSON writes, faster for a stream of
// events with the same field and meta names, as a sink's usually are:
// it remembers the sorted names of the last event and, when the next
// has as many names and each of them, looks the values up in that order
// instead of collecting and sorting the names again (a fifth of a file
// sink's CPU). It is used by one goroutine at a time; the zero value is
// ready.
type JSONEncoder struct {
	fields, meta []string
}

// Append appends e as AppendJSON does.
func (enc *JSONEncoder) Append(dst []byte, e *Event) []byte { return appendEvent(dst, e, enc) }

func (enc *JSONEncoder) fieldNames() *[]string {
	if enc == nil {
		return nil
	}
	return &enc.fields
}

func (enc *JSONEncoder) metaNames() *[]string {
	if enc == nil {
		return nil
	}
	return &enc.meta
}

// order appends m's entries to es sorted by name: in the order of names
// when m has just those names, sorted otherwise, and then remembered in
// names. A nil names sorts and remembers nothing.
func order[V any](names *[]string, es []entry[V], m map[string]V) []entry[V] {
	if names == nil {
		return sorted(es, m)
	}
	if len(*names) == len(m) && len(m) <= cap(es) {
		ok := true
		for _, k := range *names {
			var v V
			if v, ok = m[k]; !ok {
				break
			}
			es = append(es, entry[V]{k, v})
		}
		if ok {
			return es
		}
		es = es[:0]
	}
	es = sorted(es, m)
	*names = (*names)[:0]
	for _, e := range es {
		*names = append(*names, e.k)
	}
	return es
}
