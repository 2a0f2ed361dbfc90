package hostmetrics

import "bytes"

// userHZ is the unit of the CPU times in /proc/stat. The kernel fixes
// USER_HZ at 100 on every architecture Prometheus supports, which is why
// node_exporter (through procfs) hardcodes it too.
const userHZ = 100

// cpuModes names the columns of a cpuN line of /proc/stat, in order;
// guest and guest_nice go to node_cpu_guest_seconds_total instead.
var cpuModes = [...]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// statCounters maps the single-value lines of /proc/stat to their
// node_exporter names ("intr" is handled apart: only its total is kept).
var statCounters = [...]struct{ key, name string }{
	{"ctxt", "node_context_switches_total"},
	{"btime", "node_boot_time_seconds"},
	{"processes", "node_forks_total"},
	{"procs_running", "node_procs_running"},
	{"procs_blocked", "node_procs_blocked"},
}

// parseStat reads /proc/stat: per-CPU times when cpu is set (the cpu
// collector), and boot time, context switches, forks, interrupts and
// process counts when stat is set (the stat collector). The aggregate
// "cpu" line is skipped, as node_exporter does: it is the sum of the
// others.
func parseStat(b *builder, file string, data []byte, cpu, stat bool) error {
	r := lineReader{data: data}
	for {
		line, ok := r.next()
		if !ok {
			return nil
		}
		b.fields = splitFields(b.fields, line)
		f := b.fields
		if len(f) == 0 {
			continue
		}
		key := f[0]
		switch {
		case bytes.HasPrefix(key, []byte("cpu")):
			if len(key) == 3 || !cpu {
				continue
			}
			if err := addCPU(b, &r, file, f); err != nil {
				return err
			}
		case stat && string(key) == "intr":
			if len(f) < 2 {
				return r.errorf(file, "intr line has no total")
			}
			v, ok := parseUint(f[1])
			if !ok {
				return r.errorf(file, "intr total %s is not a number", quote(f[1]))
			}
			b.add("node_intr_total", float64(v))
		case stat:
			for _, c := range statCounters {
				if string(key) != c.key {
					continue
				}
				if len(f) != 2 {
					return r.errorf(file, "%s line has %d values, want 1", c.key, len(f)-1)
				}
				v, ok := parseUint(f[1])
				if !ok {
					return r.errorf(file, "%s value %s is not a number", c.key, quote(f[1]))
				}
				b.add(c.name, float64(v))
			}
		}
	}
}

// addCPU adds the times of one cpuN line, whose fields are f.
func addCPU(b *builder, r *lineReader, file string, f [][]byte) error {
	id := f[0][3:]
	if _, ok := parseUint(id); !ok {
		return r.errorf(file, "cpu name %s does not end in a number", quote(f[0]))
	}
	vals := f[1:]
	// Kernels before 2.6 printed only user, nice, system and idle.
	if len(vals) < 4 {
		return r.errorf(file, "%s has %d times, want at least 4", quote(f[0]), len(vals))
	}
	for _, v := range vals {
		if _, ok := parseUint(v); !ok {
			return r.errorf(file, "%s time %s is not a number", quote(f[0]), quote(v))
		}
	}
	cpu := b.str(id)
	for i, mode := range cpuModes {
		if i >= len(vals) {
			break
		}
		v, _ := parseUint(vals[i])
		b.add("node_cpu_seconds_total", float64(v)/userHZ, "cpu", cpu, "mode", mode)
	}
	// Guest time is also counted in user and nice; node_exporter exposes
	// it as its own metric rather than subtracting it.
	for i, mode := range [...]string{"user", "nice"} {
		j := len(cpuModes) + i
		if j >= len(vals) {
			break
		}
		v, _ := parseUint(vals[j])
		b.add("node_cpu_guest_seconds_total", float64(v)/userHZ, "cpu", cpu, "mode", mode)
	}
	return nil
}
