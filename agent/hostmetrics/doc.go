// Package hostmetrics is the agent's host_metrics source: it reads CPU,
// memory, load, disk, filesystem and network statistics from /proc (and
// statfs) every interval and emits them as Prometheus remote-write
// records, under node_exporter's metric names and labels so that
// dashboards and alerts written for node_exporter work unchanged.
//
// It owns the parsers of the /proc and /sys files it reads. Each is a decoder of
// bytes from disk: it never panics on truncated or garbled input and
// reports a *ParseError naming the file and line. A collector that fails
// leaves its series out of the pass (never half of them) and reports
// node_scrape_collector_success 0; the other collectors go on.
//
// Invariants of a pass: every sample has the same timestamp (ms); every
// series has job and instance labels, sorted labels and no empty label
// value; counters are cumulative as the kernel reports them (rates are
// the backend's business). All records of a pass have the key
// job/instance, so one host's samples stay in order in one queue.
//
// A pass reuses its buffers, label and sample slices: in steady state it
// allocates little beyond the records' bodies.
//
// Metrics, by collector (see Config.Collectors):
//
//	cpu         node_cpu_seconds_total{cpu,mode}    user nice system idle iowait irq softirq steal
//	            node_cpu_guest_seconds_total{cpu,mode}  user nice
//	stat        node_boot_time_seconds, node_context_switches_total, node_forks_total,
//	            node_intr_total, node_procs_running, node_procs_blocked
//	meminfo     node_memory_<Field>_bytes for each /proc/meminfo field in kB (kB x 1024),
//	            node_memory_<Field> for those without a unit; Active(anon) -> Active_anon
//	loadavg     node_load1, node_load5, node_load15
//	diskstats   node_disk_{reads,writes}_completed_total{device}, ..._merged_total,
//	            node_disk_read_bytes_total, node_disk_written_bytes_total (sectors x 512),
//	            node_disk_{read,write}_time_seconds_total, node_disk_io_now,
//	            node_disk_io_time_seconds_total, node_disk_io_time_weighted_seconds_total,
//	            node_disk_discards_{completed,merged}_total, node_disk_discarded_sectors_total,
//	            node_disk_discard_time_seconds_total, node_disk_flush_requests_total,
//	            node_disk_flush_requests_time_seconds_total (the last six when the kernel has them);
//	            RAM disks, loop devices and partitions are left out, as in node_exporter
//	filesystem  node_filesystem_{size,free,avail}_bytes{device,fstype,mountpoint},
//	            node_filesystem_files, node_filesystem_files_free, node_filesystem_readonly,
//	            node_filesystem_device_error (1 and nothing else when statfs fails)
//	netdev      node_network_{receive,transmit}_{bytes,packets,errs,drop,fifo,compressed}_total{device},
//	            node_network_receive_{frame,multicast}_total, node_network_transmit_{colls,carrier}_total
//	netclass    node_network_up{device} (operstate "up"), node_network_info{address,adminstate,
//	            broadcast,device,duplex,ifalias,operstate} 1, node_network_mtu_bytes,
//	            node_network_speed_bytes, node_network_carrier, node_network_transmit_queue_length,
//	            node_network_flags, node_network_protocol_type, from /sys/class/net
//	uname       node_uname_info{domainname,machine,nodename,release,sysname,version} 1
//	time        node_time_seconds
//	(each)      node_scrape_collector_success{collector}, node_scrape_collector_duration_seconds{collector}
//
// Not done: node_exporter's udev-based node_disk_info, and a timeout on
// statfs: a hung network mount stalls this source (not the agent's
// other sources) until it answers.
package hostmetrics
