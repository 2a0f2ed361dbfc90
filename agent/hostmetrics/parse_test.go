package hostmetrics

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// render prints series one per line as name{labels} value, labels in
// their stored order, so that expectations also check the sorting.
func render(series []prompb.TimeSeries) []string {
	out := make([]string, 0, len(series))
	for _, s := range series {
		var sb strings.Builder
		var name string
		var lbls []string
		for _, l := range s.Labels {
			if l.Name == "__name__" {
				name = l.Value
				continue
			}
			lbls = append(lbls, l.Name+"="+strconv.Quote(l.Value))
		}
		sb.WriteString(name)
		sb.WriteString("{" + strings.Join(lbls, ",") + "} ")
		for i, smp := range s.Samples {
			if i > 0 {
				sb.WriteString(" ")
			}
			sb.WriteString(strconv.FormatFloat(smp.Value, 'f', -1, 64))
		}
		out = append(out, sb.String())
	}
	return out
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "proc", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// parsers are the /proc parsers as the table tests and fuzz targets call
// them; the builder is new for each call.
var parsers = map[string]func(b *builder, file string, data []byte) error{
	"cpu":       func(b *builder, f string, d []byte) error { return parseStat(b, f, d, true, false) },
	"stat":      func(b *builder, f string, d []byte) error { return parseStat(b, f, d, false, true) },
	"meminfo":   parseMeminfo,
	"loadavg":   parseLoadavg,
	"diskstats": parseDiskstats,
	"netdev":    parseNetDev,
}

func TestParsersOnFixtures(t *testing.T) {
	tests := []struct {
		parser, file string
		want         []string
	}{
		{"cpu", "stat", []string{
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="user"} 1542.79`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="nice"} 0`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="system"} 482.87`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="idle"} 33531.79`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="iowait"} 70.54`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="irq"} 0`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="softirq"} 38.37`,
			`node_cpu_seconds_total{cpu="0",instance="h",job="node",mode="steal"} 45.96`,
			`node_cpu_guest_seconds_total{cpu="0",instance="h",job="node",mode="user"} 0`,
			`node_cpu_guest_seconds_total{cpu="0",instance="h",job="node",mode="nice"} 0`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="user"} 1669.63`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="nice"} 0.12`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="system"} 751.76`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="idle"} 32543.62`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="iowait"} 628.7`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="irq"} 0.03`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="softirq"} 39.64`,
			`node_cpu_seconds_total{cpu="1",instance="h",job="node",mode="steal"} 46.67`,
			`node_cpu_guest_seconds_total{cpu="1",instance="h",job="node",mode="user"} 1.5`,
			`node_cpu_guest_seconds_total{cpu="1",instance="h",job="node",mode="nice"} 0.07`,
		}},
		{"stat", "stat", []string{
			`node_intr_total{instance="h",job="node"} 29417077`,
			`node_context_switches_total{instance="h",job="node"} 88918389`,
			`node_boot_time_seconds{instance="h",job="node"} 1795839959`,
			`node_forks_total{instance="h",job="node"} 61754`,
			`node_procs_running{instance="h",job="node"} 2`,
			`node_procs_blocked{instance="h",job="node"} 1`,
		}},
		{"meminfo", "meminfo", []string{
			`node_memory_MemTotal_bytes{instance="h",job="node"} 25276514304`,
			`node_memory_MemFree_bytes{instance="h",job="node"} 24682131456`,
			`node_memory_MemAvailable_bytes{instance="h",job="node"} 24796250112`,
			`node_memory_Buffers_bytes{instance="h",job="node"} 5701632`,
			`node_memory_Cached_bytes{instance="h",job="node"} 271867904`,
			`node_memory_SwapCached_bytes{instance="h",job="node"} 0`,
			`node_memory_Active_bytes{instance="h",job="node"} 191807488`,
			`node_memory_Inactive_bytes{instance="h",job="node"} 105009152`,
			`node_memory_Active_anon_bytes{instance="h",job="node"} 1593344`,
			`node_memory_Inactive_anon_bytes{instance="h",job="node"} 26652672`,
			`node_memory_Active_file_bytes{instance="h",job="node"} 190214144`,
			`node_memory_Inactive_file_bytes{instance="h",job="node"} 78356480`,
			`node_memory_Unevictable_bytes{instance="h",job="node"} 15462400`,
			`node_memory_Mlocked_bytes{instance="h",job="node"} 14561280`,
			`node_memory_SwapTotal_bytes{instance="h",job="node"} 0`,
			`node_memory_SwapFree_bytes{instance="h",job="node"} 0`,
			`node_memory_Dirty_bytes{instance="h",job="node"} 49152`,
			`node_memory_Writeback_bytes{instance="h",job="node"} 0`,
			`node_memory_AnonPages_bytes{instance="h",job="node"} 34717696`,
			`node_memory_Mapped_bytes{instance="h",job="node"} 32874496`,
			`node_memory_Shmem_bytes{instance="h",job="node"} 8998912`,
			`node_memory_Slab_bytes{instance="h",job="node"} 195760128`,
			`node_memory_SReclaimable_bytes{instance="h",job="node"} 162877440`,
			`node_memory_SUnreclaim_bytes{instance="h",job="node"} 32882688`,
			`node_memory_NFS_Unstable_bytes{instance="h",job="node"} 0`,
			`node_memory_CommitLimit_bytes{instance="h",job="node"} 12638257152`,
			`node_memory_Committed_AS_bytes{instance="h",job="node"} 290197504`,
			`node_memory_VmallocTotal_bytes{instance="h",job="node"} 35184372087808`,
			`node_memory_HugePages_Total{instance="h",job="node"} 0`,
			`node_memory_HugePages_Free{instance="h",job="node"} 0`,
			`node_memory_Hugepagesize_bytes{instance="h",job="node"} 2097152`,
			`node_memory_DirectMap4k_bytes{instance="h",job="node"} 29360128`,
			`node_memory_DirectMap2M_bytes{instance="h",job="node"} 2118123520`,
			`node_memory_DirectMap1G_bytes{instance="h",job="node"} 25769803776`,
		}},
		{"loadavg", "loadavg", []string{
			`node_load1{instance="h",job="node"} 0.01`,
			`node_load5{instance="h",job="node"} 0.42`,
			`node_load15{instance="h",job="node"} 1.31`,
		}},
		// loop0, ram0, vda1, nvme0n1p1 and zram0 are left out.
		{"diskstats", "diskstats", []string{
			`node_disk_reads_completed_total{device="vda",instance="h",job="node"} 213113`,
			`node_disk_reads_merged_total{device="vda",instance="h",job="node"} 23481`,
			`node_disk_read_bytes_total{device="vda",instance="h",job="node"} 4325086208`,
			`node_disk_read_time_seconds_total{device="vda",instance="h",job="node"} 237.09`,
			`node_disk_writes_completed_total{device="vda",instance="h",job="node"} 6685922`,
			`node_disk_writes_merged_total{device="vda",instance="h",job="node"} 1028072`,
			`node_disk_written_bytes_total{device="vda",instance="h",job="node"} 318514540544`,
			`node_disk_write_time_seconds_total{device="vda",instance="h",job="node"} 1289.944`,
			`node_disk_io_now{device="vda",instance="h",job="node"} 0`,
			`node_disk_io_time_seconds_total{device="vda",instance="h",job="node"} 906.54`,
			`node_disk_io_time_weighted_seconds_total{device="vda",instance="h",job="node"} 2166.401`,
			`node_disk_discards_completed_total{device="vda",instance="h",job="node"} 584517`,
			`node_disk_discards_merged_total{device="vda",instance="h",job="node"} 2130`,
			`node_disk_discarded_sectors_total{device="vda",instance="h",job="node"} 588811984`,
			`node_disk_discard_time_seconds_total{device="vda",instance="h",job="node"} 589.259`,
			`node_disk_flush_requests_total{device="vda",instance="h",job="node"} 2016406`,
			`node_disk_flush_requests_time_seconds_total{device="vda",instance="h",job="node"} 50.105`,
			`node_disk_reads_completed_total{device="sda",instance="h",job="node"} 5000`,
			`node_disk_reads_merged_total{device="sda",instance="h",job="node"} 100`,
			`node_disk_read_bytes_total{device="sda",instance="h",job="node"} 204800000`,
			`node_disk_read_time_seconds_total{device="sda",instance="h",job="node"} 1.5`,
			`node_disk_writes_completed_total{device="sda",instance="h",job="node"} 3000`,
			`node_disk_writes_merged_total{device="sda",instance="h",job="node"} 50`,
			`node_disk_written_bytes_total{device="sda",instance="h",job="node"} 122880000`,
			`node_disk_write_time_seconds_total{device="sda",instance="h",job="node"} 2.5`,
			`node_disk_io_now{device="sda",instance="h",job="node"} 2`,
			`node_disk_io_time_seconds_total{device="sda",instance="h",job="node"} 4`,
			`node_disk_io_time_weighted_seconds_total{device="sda",instance="h",job="node"} 4`,
			`node_disk_discards_completed_total{device="sda",instance="h",job="node"} 10`,
			`node_disk_discards_merged_total{device="sda",instance="h",job="node"} 1`,
			`node_disk_discarded_sectors_total{device="sda",instance="h",job="node"} 80`,
			`node_disk_discard_time_seconds_total{device="sda",instance="h",job="node"} 0.005`,
			`node_disk_reads_completed_total{device="nvme0n1",instance="h",job="node"} 900`,
			`node_disk_reads_merged_total{device="nvme0n1",instance="h",job="node"} 1`,
			`node_disk_read_bytes_total{device="nvme0n1",instance="h",job="node"} 3686400`,
			`node_disk_read_time_seconds_total{device="nvme0n1",instance="h",job="node"} 0.045`,
			`node_disk_writes_completed_total{device="nvme0n1",instance="h",job="node"} 800`,
			`node_disk_writes_merged_total{device="nvme0n1",instance="h",job="node"} 2`,
			`node_disk_written_bytes_total{device="nvme0n1",instance="h",job="node"} 3276800`,
			`node_disk_write_time_seconds_total{device="nvme0n1",instance="h",job="node"} 0.03`,
			`node_disk_io_now{device="nvme0n1",instance="h",job="node"} 0`,
			`node_disk_io_time_seconds_total{device="nvme0n1",instance="h",job="node"} 0.06`,
			`node_disk_io_time_weighted_seconds_total{device="nvme0n1",instance="h",job="node"} 0.075`,
			`node_disk_reads_completed_total{device="dm-0",instance="h",job="node"} 400`,
			`node_disk_reads_merged_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_read_bytes_total{device="dm-0",instance="h",job="node"} 1638400`,
			`node_disk_read_time_seconds_total{device="dm-0",instance="h",job="node"} 0.02`,
			`node_disk_writes_completed_total{device="dm-0",instance="h",job="node"} 100`,
			`node_disk_writes_merged_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_written_bytes_total{device="dm-0",instance="h",job="node"} 409600`,
			`node_disk_write_time_seconds_total{device="dm-0",instance="h",job="node"} 0.01`,
			`node_disk_io_now{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_io_time_seconds_total{device="dm-0",instance="h",job="node"} 0.025`,
			`node_disk_io_time_weighted_seconds_total{device="dm-0",instance="h",job="node"} 0.03`,
			`node_disk_discards_completed_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_discards_merged_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_discarded_sectors_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_discard_time_seconds_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_flush_requests_total{device="dm-0",instance="h",job="node"} 0`,
			`node_disk_flush_requests_time_seconds_total{device="dm-0",instance="h",job="node"} 0`,
		}},
		{"netdev", "net/dev", []string{
			`node_network_receive_bytes_total{device="lo",instance="h",job="node"} 54753726555`,
			`node_network_receive_packets_total{device="lo",instance="h",job="node"} 1438376`,
			`node_network_receive_errs_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_drop_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_fifo_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_frame_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_compressed_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_multicast_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_bytes_total{device="lo",instance="h",job="node"} 54753726555`,
			`node_network_transmit_packets_total{device="lo",instance="h",job="node"} 1438376`,
			`node_network_transmit_errs_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_drop_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_fifo_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_colls_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_carrier_total{device="lo",instance="h",job="node"} 0`,
			`node_network_transmit_compressed_total{device="lo",instance="h",job="node"} 0`,
			`node_network_receive_bytes_total{device="eth0",instance="h",job="node"} 206916733`,
			`node_network_receive_packets_total{device="eth0",instance="h",job="node"} 10236`,
			`node_network_receive_errs_total{device="eth0",instance="h",job="node"} 1`,
			`node_network_receive_drop_total{device="eth0",instance="h",job="node"} 2`,
			`node_network_receive_fifo_total{device="eth0",instance="h",job="node"} 3`,
			`node_network_receive_frame_total{device="eth0",instance="h",job="node"} 4`,
			`node_network_receive_compressed_total{device="eth0",instance="h",job="node"} 5`,
			`node_network_receive_multicast_total{device="eth0",instance="h",job="node"} 6`,
			`node_network_transmit_bytes_total{device="eth0",instance="h",job="node"} 873462`,
			`node_network_transmit_packets_total{device="eth0",instance="h",job="node"} 8016`,
			`node_network_transmit_errs_total{device="eth0",instance="h",job="node"} 7`,
			`node_network_transmit_drop_total{device="eth0",instance="h",job="node"} 8`,
			`node_network_transmit_fifo_total{device="eth0",instance="h",job="node"} 9`,
			`node_network_transmit_colls_total{device="eth0",instance="h",job="node"} 10`,
			`node_network_transmit_carrier_total{device="eth0",instance="h",job="node"} 11`,
			`node_network_transmit_compressed_total{device="eth0",instance="h",job="node"} 12`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.parser, func(t *testing.T) {
			b := newBuilder("node", "h")
			b.reset(1000)
			if err := parsers[tt.parser](b, tt.file, fixture(t, tt.file)); err != nil {
				t.Fatal(err)
			}
			got := render(b.series)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, s := range b.series {
				if len(s.Samples) != 1 || s.Samples[0].Timestamp != 1000 {
					t.Fatalf("%v: samples %v, want one at 1000", s.Labels, s.Samples)
				}
			}
		})
	}
}

// TestParsersReportBadInput checks that garbled or truncated content
// fails with a ParseError naming the file and the line, and adds nothing.
func TestParsersReportBadInput(t *testing.T) {
	tests := []struct {
		parser, data string
		line         int
		msg          string
	}{
		{"cpu", "cpu  1 2 3 4\ncpu0 1 2 3\n", 2, `"cpu0" has 3 times, want at least 4`},
		{"cpu", "cpu0 1 2 x 4\n", 1, `"cpu0" time "x" is not a number`},
		{"cpu", "cpux 1 2 3 4\n", 1, `cpu name "cpux" does not end in a number`},
		{"cpu", "cpu0 1 2 3 99999999999999999999999\n", 1, `is not a number`},
		{"stat", "ctxt 5\nbtime\n", 2, `btime line has 0 values, want 1`},
		{"stat", "intr\n", 1, `intr line has no total`},
		{"stat", "processes -1\n", 1, `processes value "-1" is not a number`},
		{"meminfo", "MemTotal: 10 kB\nMemFree 5 kB\n", 2, `bad field name "MemFree"`},
		{"meminfo", "MemTotal: 10 MB\n", 1, `MemTotal unit "MB" is not kB`},
		{"meminfo", "MemTotal:\n", 1, `want "Field: value [kB]", got "MemTotal:"`},
		{"meminfo", "Mem-Total: 1 kB\n", 1, `bad field name "Mem-Total:"`},
		{"meminfo", "MemTotal: 1.5 kB\n", 1, `MemTotal value "1.5" is not a number`},
		{"loadavg", "", 1, `want 3 load averages`},
		{"loadavg", "0.1 0.2\n", 1, `want 3 load averages, got "0.1 0.2"`},
		{"loadavg", "0.1 x 0.3 1/2 3\n", 1, `load average "x" is not a number`},
		{"diskstats", "   8 0 sda 1 2 3 4 5 6 7 8 9 10\n", 1, `want major, minor, name and at least 11 counters, got 13 fields`},
		{"diskstats", "   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sdb 1 2 3 4 5 6 7 8 9 10 z\n", 2, `device "sdb" counter "z" is not a number`},
		{"netdev", "Inter-|\n face |\n  eth0: 1 2 3\n", 3, `interface "eth0" has 3 counters, want 16`},
		{"netdev", "eth0 1 2 3\n", 1, `no "iface:" in "eth0 1 2 3"`},
		{"netdev", " : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", 1, `interface name "" is empty or not UTF-8`},
		{"netdev", "lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16\n", 1, `interface "lo" counter "-16" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.parser+"/"+tt.msg, func(t *testing.T) {
			b := newBuilder("node", "h")
			err := parsers[tt.parser](b, "/proc/x", []byte(tt.data))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if pe.File != "/proc/x" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("got %q, want /proc/x line %d: ...%s...", err, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "parse /proc/x line ") {
				t.Fatalf("message %q does not start with the file and line", err)
			}
		})
	}
}

func TestParseMounts(t *testing.T) {
	b := newBuilder("node", "h")
	got, err := parseMounts(b, "mountinfo", fixture(t, "self/mountinfo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []mount{
		{"proc", "/proc", "proc", false},
		{"sysfs", "/sys", "sysfs", false},
		{"devtmpfs", "/dev", "devtmpfs", false},
		{"tmpfs", "/dev/shm", "tmpfs", false},
		{"/dev/vda", "/", "ext4", false},
		{"tools", "/mnt/tools", "tmpfs", true},
		{"tmpfs", "/sys/fs/cgroup", "tmpfs", false},
		{"cgroup2", "/sys/fs/cgroup/unified", "cgroup2", false},
		{"/dev/vdb", "/srv/my data", "xfs", false},
		{"/dev/vdb", "/srv/my data", "xfs", false},
		{"overlay", "/var/lib/docker/overlay2/abc/merged", "overlay", false},
		{"tmpfs", "/run", "tmpfs", false},
		{"/dev/vdc", "/gone", "ext4", false},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}

	bad := []struct {
		data string
		line int
		msg  string
	}{
		{"27 1 254:0 / / rw - ext4 /dev/vda rw\n28 27 0:25 / /x rw - tmpfs\n", 2, "got 8 fields"},
		{"27 1 254:0 / / rw ext4 /dev/vda rw\n", 1, "got 9 fields"},
		{"27 1 254:0 / relative rw - ext4 /dev/vda rw\n", 1, `mount point "relative" is not an absolute path`},
	}
	for _, tt := range bad {
		_, err := parseMounts(b, "mountinfo", []byte(tt.data), nil)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("%q: got %v, want line %d: ...%s...", tt.data, err, tt.line, tt.msg)
		}
	}
}

func TestUnescapedMountPoint(t *testing.T) {
	b := newBuilder("node", "h")
	for in, want := range map[string]string{
		`/a\040b`:      "/a b",
		`/tab\011x`:    "/tab\tx",
		`/back\134sl`:  `/back\sl`,
		`/short\04`:    `/short\04`,
		`/not\999oct`:  `/not\999oct`,
		`/trailing\\`:  `/trailing\\`,
		`/plain/mount`: "/plain/mount",
	} {
		if got := b.unescaped([]byte(in)); got != want {
			t.Errorf("unescaped(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExcludedDisk(t *testing.T) {
	for name, want := range map[string]bool{
		"loop0": true, "loop12": true, "ram0": true, "zram3": true, "fd0": true,
		"sda1": true, "hdb2": true, "vda15": true, "xvdf1": true, "nvme0n1p1": true, "nvme10n2p33": true,
		"sda": false, "vda": false, "xvdf": false, "nvme0n1": false, "dm-0": false, "md127": false,
		"sr0": false, "mmcblk0": false, "mmcblk0p1": false, "nvmep1": false, "nvme0p1": false, "loop": false,
		"sdaa1": false, "": false,
	} {
		if got := excludedDisk([]byte(name)); got != want {
			t.Errorf("excludedDisk(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestExcludedMountPoint(t *testing.T) {
	excl := []string{"/dev", "/run/credentials/"}
	for mp, want := range map[string]bool{
		"/dev": true, "/dev/shm": true, "/device": false, "/": false,
		"/run/credentials": false, "/run/credentials/x.service": true,
	} {
		if got := excludedMountPoint(mp, excl); got != want {
			t.Errorf("excludedMountPoint(%q) = %v, want %v", mp, got, want)
		}
	}
}
