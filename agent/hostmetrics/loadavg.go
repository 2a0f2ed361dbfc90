package hostmetrics

var loadNames = [...]string{"node_load1", "node_load5", "node_load15"}

// parseLoadavg reads /proc/loadavg: "0.01 0.42 1.31 1/107 29291".
func parseLoadavg(b *builder, file string, data []byte) error {
	r := lineReader{data: data}
	line, _ := r.next()
	b.fields = splitFields(b.fields, line)
	if len(b.fields) < len(loadNames) {
		return r.errorf(file, "want 3 load averages, got %s", quote(line))
	}
	for i, name := range loadNames {
		v, ok := parseFloat(b.fields[i])
		if !ok {
			return r.errorf(file, "load average %s is not a number", quote(b.fields[i]))
		}
		b.add(name, v)
	}
	return nil
}
