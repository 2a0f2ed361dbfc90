package hostmetrics

import "bytes"

// netdevColumns names the 16 counters of a /proc/net/dev line, receive
// then transmit, as node_exporter does.
var netdevColumns = [...]string{
	"node_network_receive_bytes_total",
	"node_network_receive_packets_total",
	"node_network_receive_errs_total",
	"node_network_receive_drop_total",
	"node_network_receive_fifo_total",
	"node_network_receive_frame_total",
	"node_network_receive_compressed_total",
	"node_network_receive_multicast_total",
	"node_network_transmit_bytes_total",
	"node_network_transmit_packets_total",
	"node_network_transmit_errs_total",
	"node_network_transmit_drop_total",
	"node_network_transmit_fifo_total",
	"node_network_transmit_colls_total",
	"node_network_transmit_carrier_total",
	"node_network_transmit_compressed_total",
}

// parseNetDev reads /proc/net/dev: two header lines (recognised by their
// '|'), then "iface: 16 counters" per interface.
func parseNetDev(b *builder, file string, data []byte) error {
	r := lineReader{data: data}
	for {
		line, ok := r.next()
		if !ok {
			return nil
		}
		if bytes.IndexByte(line, '|') >= 0 {
			continue
		}
		// Counters hold no colon, so the last one ends the name (old
		// kernels printed aliases such as "eth0:1").
		colon := bytes.LastIndexByte(line, ':')
		if colon < 0 {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return r.errorf(file, "no \"iface:\" in %s", quote(line))
		}
		name := bytes.TrimSpace(line[:colon])
		b.fields = splitFields(b.fields, line[colon+1:])
		f := b.fields
		if len(f) < len(netdevColumns) {
			return r.errorf(file, "interface %s has %d counters, want %d", quote(name), len(f), len(netdevColumns))
		}
		for _, v := range f[:len(netdevColumns)] {
			if _, ok := parseUint(v); !ok {
				return r.errorf(file, "interface %s counter %s is not a number", quote(name), quote(v))
			}
		}
		if !validLabel(name) {
			return r.errorf(file, "interface name %s is empty or not UTF-8", quote(name))
		}
		dev := b.str(name)
		for i, metric := range netdevColumns {
			v, _ := parseUint(f[i])
			b.add(metric, float64(v), "device", dev)
		}
	}
}
