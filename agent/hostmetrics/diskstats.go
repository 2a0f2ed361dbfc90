package hostmetrics

// sectorSize is the unit of the sector counts in /proc/diskstats: always
// 512 bytes, whatever the device's own sector size.
const sectorSize = 512

// diskColumn is one statistic column of /proc/diskstats (after major,
// minor and name) and how node_exporter exposes it.
type diskColumn struct {
	name string
	mul  float64 // sectors to bytes
	div  float64 // milliseconds to seconds; dividing keeps 237090 ms exactly 237.09 s
}

// diskColumns are the columns in kernel order: 11 since 2.6, 15 since
// 4.18 (discards), 17 since 5.5 (flushes). Times are in milliseconds.
var diskColumns = [...]diskColumn{
	{"node_disk_reads_completed_total", 1, 1},
	{"node_disk_reads_merged_total", 1, 1},
	{"node_disk_read_bytes_total", sectorSize, 1},
	{"node_disk_read_time_seconds_total", 1, 1000},
	{"node_disk_writes_completed_total", 1, 1},
	{"node_disk_writes_merged_total", 1, 1},
	{"node_disk_written_bytes_total", sectorSize, 1},
	{"node_disk_write_time_seconds_total", 1, 1000},
	{"node_disk_io_now", 1, 1},
	{"node_disk_io_time_seconds_total", 1, 1000},
	{"node_disk_io_time_weighted_seconds_total", 1, 1000},
	{"node_disk_discards_completed_total", 1, 1},
	{"node_disk_discards_merged_total", 1, 1},
	{"node_disk_discarded_sectors_total", 1, 1},
	{"node_disk_discard_time_seconds_total", 1, 1000},
	{"node_disk_flush_requests_total", 1, 1},
	{"node_disk_flush_requests_time_seconds_total", 1, 1000},
}

// minDiskColumns is the column count of every kernel since 2.6.25.
const minDiskColumns = 11

// parseDiskstats reads /proc/diskstats, leaving out the devices
// node_exporter leaves out by default (see excludedDisk).
func parseDiskstats(b *builder, file string, data []byte) error {
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
		if len(f) < 3+minDiskColumns {
			return r.errorf(file, "want major, minor, name and at least %d counters, got %d fields", minDiskColumns, len(f))
		}
		for _, v := range f[3:] {
			if _, ok := parseUint(v); !ok {
				return r.errorf(file, "device %s counter %s is not a number", quote(f[2]), quote(v))
			}
		}
		if excludedDisk(f[2]) {
			continue
		}
		dev := b.str(f[2])
		for i, col := range diskColumns {
			if 3+i >= len(f) {
				break
			}
			v, _ := parseUint(f[3+i])
			b.add(col.name, float64(v)*col.mul/col.div, "device", dev)
		}
	}
}

// excludedDisk implements node_exporter's default device exclusion,
// ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$: RAM disks, loop
// devices, floppies, and partitions of whole disks already counted.
func excludedDisk(name []byte) bool {
	// Every alternative ends in one or more digits.
	end := len(name)
	for end > 0 && isDigit(name[end-1]) {
		end--
	}
	if end == len(name) {
		return false
	}
	p := string(name[:end])
	switch p {
	case "ram", "zram", "loop", "fd":
		return true
	}
	if len(p) == 3 && (p[0] == 'h' || p[0] == 's' || p[0] == 'v') && p[1] == 'd' && isLower(p[2]) {
		return true
	}
	if len(p) == 4 && p[:3] == "xvd" && isLower(p[3]) {
		return true
	}
	return isNVMePartitionPrefix(p)
}

// isNVMePartitionPrefix matches nvme\d+n\d+p.
func isNVMePartitionPrefix(p string) bool {
	const pre = "nvme"
	if len(p) < len(pre) || p[:len(pre)] != pre || p[len(p)-1] != 'p' {
		return false
	}
	rest := p[len(pre) : len(p)-1]
	i := 0
	for i < len(rest) && isDigit(rest[i]) {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != 'n' {
		return false
	}
	rest = rest[i+1:]
	if len(rest) == 0 {
		return false
	}
	for j := 0; j < len(rest); j++ {
		if !isDigit(rest[j]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
