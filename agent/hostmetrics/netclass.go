package hostmetrics

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// netClassGauges are the numeric files of /sys/class/net/<iface> and
// their node_exporter names. A file the interface does not have, or
// that the driver refuses to read (speed of a down link: EINVAL), is
// left out.
var netClassGauges = [...]struct {
	file, name string
	mul        float64
}{
	{"mtu", "node_network_mtu_bytes", 1},
	{"speed", "node_network_speed_bytes", 1e6 / 8}, // Mbit/s
	{"carrier", "node_network_carrier", 1},
	{"tx_queue_len", "node_network_transmit_queue_length", 1},
	{"type", "node_network_protocol_type", 1},
}

// collectNetClass reads /sys/class/net: link state, speed and MTU of
// each interface, which /proc/net/dev does not have.
func (c *Collector) collectNetClass(time.Time) error {
	d, err := os.Open(c.netClassDir)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", c.netClassDir, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := c.addNetClass(name); err != nil {
			return err
		}
	}
	return nil
}

// addNetClass adds the series of one interface. An entry without an
// operstate is not an interface (bonding_masters is a file there).
func (c *Collector) addNetClass(name string) error {
	b := c.b
	paths := c.netClassPaths(name)
	operstate, ok := c.sysAttr(paths[attrOperstate])
	if !ok {
		return nil
	}
	dev := b.str([]byte(name))
	oper := b.str(operstate)
	up := 0.0
	if oper == "up" {
		up = 1
	}
	b.add("node_network_up", up, "device", dev)
	admin := ""
	if v, ok := c.sysAttr(paths[attrFlags]); ok {
		flags, ok := parseHex(v)
		if !ok {
			return &ParseError{File: paths[attrFlags], Line: 1, Msg: "flags " + quote(v) + " is not a hex number"}
		}
		b.add("node_network_flags", float64(flags), "device", dev)
		admin = "down"
		if flags&syscall.IFF_UP != 0 {
			admin = "up"
		}
	}
	for i, g := range netClassGauges {
		path := paths[attrGauges+i]
		v, ok := c.sysAttr(path)
		if !ok {
			continue
		}
		n, ok := parseUint(v)
		if !ok {
			if g.file == "speed" && string(v) == "-1" {
				continue // unknown speed (virtual NICs)
			}
			return &ParseError{File: path, Line: 1, Msg: g.file + " " + quote(v) + " is not a number"}
		}
		b.add(g.name, float64(n)*g.mul, "device", dev)
	}
	var info [len(netClassAttrs) - attrInfo]string
	for i := range info {
		if v, ok := c.sysAttr(paths[attrInfo+i]); ok {
			info[i] = b.str(v)
		}
	}
	b.add("node_network_info", 1, "adminstate", admin, "address", info[0], "broadcast", info[1],
		"device", dev, "duplex", info[2], "ifalias", info[3], "operstate", oper)
	return nil
}

// sysAttr reads a one-line sysfs attribute, trimmed; ok is false when the
// interface has no such attribute or the driver cannot tell (EINVAL).
func (c *Collector) sysAttr(path string) ([]byte, bool) {
	data, op, err := c.read(path)
	if err != nil {
		if err != syscall.ENOENT && err != syscall.EINVAL && err != syscall.ENOTDIR {
			c.lg.Debug("read sysfs attribute", "op", op, "path", path, "err", err)
		}
		return nil, false
	}
	return bytes.TrimSpace(data), true
}

// netClassAttrs are the files read per interface, in netClassPaths order.
var netClassAttrs = [...]string{
	"operstate", "flags", "mtu", "speed", "carrier", "tx_queue_len", "type",
	"address", "broadcast", "duplex", "ifalias",
}

const (
	attrOperstate = iota
	attrFlags
	attrGauges // netClassGauges start here
	attrInfo   = attrGauges + len(netClassGauges)
)

// netClassPaths returns the attribute paths of an interface, built once
// per interface rather than on every pass.
func (c *Collector) netClassPaths(name string) *[len(netClassAttrs)]string {
	if p, ok := c.ifacePaths[name]; ok {
		return p
	}
	if len(c.ifacePaths) >= maxInterned {
		clear(c.ifacePaths)
	}
	p := new([len(netClassAttrs)]string)
	for i, a := range netClassAttrs {
		p[i] = filepath.Join(c.netClassDir, name, a)
	}
	c.ifacePaths[name] = p
	return p
}

// parseHex parses sysfs' 0x-prefixed hex numbers.
func parseHex(b []byte) (uint64, bool) {
	if len(b) < 3 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') || len(b) > 18 {
		return 0, false
	}
	var n uint64
	for _, c := range b[2:] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
