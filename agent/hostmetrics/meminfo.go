package hostmetrics

// parseMeminfo reads /proc/meminfo. Every field becomes
// node_memory_<Field>_bytes (kB times 1024), or node_memory_<Field> for
// the few without a unit (HugePages_Total...), with "Active(anon)" named
// "Active_anon", exactly as node_exporter names them.
func parseMeminfo(b *builder, file string, data []byte) error {
	r := lineReader{data: data}
	for {
		line, ok := r.next()
		if !ok {
			return nil
		}
		b.fields = splitFields(b.fields, line)
		f := b.fields
		if len(f) == 0 {
			continue // some CentOS kernels print empty lines
		}
		if len(f) < 2 || len(f) > 3 {
			return r.errorf(file, "want \"Field: value [kB]\", got %s", quote(line))
		}
		key := f[0]
		if len(key) < 2 || key[len(key)-1] != ':' || !validMemField(key[:len(key)-1]) {
			return r.errorf(file, "bad field name %s", quote(key))
		}
		key = key[:len(key)-1]
		v, ok := parseUint(f[1])
		if !ok {
			return r.errorf(file, "%s value %s is not a number", key, quote(f[1]))
		}
		withUnit := len(f) == 3
		if withUnit && string(f[2]) != "kB" {
			return r.errorf(file, "%s unit %s is not kB", key, quote(f[2]))
		}
		val := float64(v)
		if withUnit {
			val *= 1024
		}
		b.add(b.memName(key, withUnit), val)
	}
}

// validMemField accepts the characters meminfo field names use, so that
// the metric name made from one is a valid Prometheus name.
func validMemField(k []byte) bool {
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '(', c == ')':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// memName returns the metric name of a meminfo field, built once per
// field and then reused.
func (b *builder) memName(key []byte, withUnit bool) string {
	names := b.memPlain
	if withUnit {
		names = b.memBytes
	}
	if s, ok := names[string(key)]; ok {
		return s
	}
	name := make([]byte, 0, len("node_memory_")+len(key)+len("_bytes"))
	name = append(name, "node_memory_"...)
	for _, c := range key {
		switch c {
		case '(':
			name = append(name, '_')
		case ')':
		default:
			name = append(name, c)
		}
	}
	if withUnit {
		name = append(name, "_bytes"...)
	}
	if len(names) >= maxInterned {
		clear(names)
	}
	s := string(name)
	names[string(key)] = s
	return s
}
