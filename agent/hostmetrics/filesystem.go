package hostmetrics

import (
	"path/filepath"
	"strings"
	"syscall"
)

// mount is one line of /proc/<pid>/mountinfo, as far as the filesystem
// collector needs it.
type mount struct {
	device, mountPoint, fsType string
	readOnly                   bool
}

// DefaultFSExcludeTypes are the filesystem types node_exporter leaves out
// by default: pseudo and virtual filesystems, and read-only images.
var DefaultFSExcludeTypes = []string{
	"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
	"devtmpfs", "erofs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc",
	"procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tracefs",
}

// DefaultFSExcludeMountPoints are the mount points node_exporter leaves
// out by default (each with everything below it).
var DefaultFSExcludeMountPoints = []string{
	"/dev", "/proc", "/sys", "/run/credentials", "/var/lib/docker", "/var/lib/containers/storage",
}

// parseMounts reads /proc/<pid>/mountinfo into dst[:0]:
//
//	36 35 98:0 /mnt1 /mnt/parent ro,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)         (6)       (7...)  (-) (8)   (9)       (10)
//
// Mount point and device are unescaped (the kernel writes a space as
// \040).
func parseMounts(b *builder, file string, data []byte, dst []mount) ([]mount, error) {
	dst = dst[:0]
	r := lineReader{data: data}
	for {
		line, ok := r.next()
		if !ok {
			return dst, nil
		}
		b.fields = splitFields(b.fields, line)
		f := b.fields
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if string(f[i]) == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+3 {
			return dst, r.errorf(file, "want 6 fields, optional fields, \"-\", type and source; got %d fields", len(f))
		}
		m := mount{
			mountPoint: b.unescaped(f[4]),
			fsType:     b.str(f[sep+1]),
			device:     b.unescaped(f[sep+2]),
			readOnly:   hasOption(f[5], "ro"),
		}
		if m.mountPoint == "" || m.mountPoint[0] != '/' {
			return dst, r.errorf(file, "mount point %s is not an absolute path", quote(f[4]))
		}
		dst = append(dst, m)
	}
}

// hasOption reports whether the comma-separated opts holds opt.
func hasOption(opts []byte, opt string) bool {
	for len(opts) > 0 {
		i := 0
		for i < len(opts) && opts[i] != ',' {
			i++
		}
		if string(opts[:i]) == opt {
			return true
		}
		if i == len(opts) {
			break
		}
		opts = opts[i+1:]
	}
	return false
}

// unescaped interns v with the kernel's octal escapes (\040 for a space,
// \011, \012, \134) decoded; a backslash not followed by three octal
// digits is kept as is.
func (b *builder) unescaped(v []byte) string {
	if !containsByte(v, '\\') {
		return b.str(v)
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && isOctal(v[i+1]) && isOctal(v[i+2]) && isOctal(v[i+3]) {
			n := int(v[i+1]-'0')<<6 | int(v[i+2]-'0')<<3 | int(v[i+3]-'0')
			if n < 256 {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		out = append(out, v[i])
	}
	return b.str(out)
}

func containsByte(v []byte, c byte) bool {
	for _, x := range v {
		if x == c {
			return true
		}
	}
	return false
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// fsKey identifies one filesystem series set: the same filesystem is
// often mounted twice at one place (bind mounts, stacked mounts).
type fsKey struct{ device, mountPoint, fsType string }

// addFilesystems statfs()es each mount not excluded and adds its
// node_filesystem_* series. A mount that cannot be statfs()ed (gone,
// permission denied) only gets node_filesystem_device_error 1, as in
// node_exporter.
func (c *Collector) addFilesystems(b *builder, mounts []mount) {
	clear(c.fsSeen)
	var st syscall.Statfs_t
	for _, m := range mounts {
		if c.fsTypes[m.fsType] || excludedMountPoint(m.mountPoint, c.cfg.FSExcludeMountPoints) {
			continue
		}
		k := fsKey{m.device, m.mountPoint, m.fsType}
		if c.fsSeen[k] {
			continue
		}
		c.fsSeen[k] = true
		path := m.mountPoint
		if c.cfg.RootfsPath != "/" {
			path = filepath.Join(c.cfg.RootfsPath, m.mountPoint)
		}
		lbl := [...]string{"device", m.device, "fstype", m.fsType, "mountpoint", m.mountPoint}
		if err := c.statfs(path, &st); err != nil {
			b.add("node_filesystem_device_error", 1, lbl[:]...)
			continue
		}
		bsize := float64(st.Bsize)
		ro := 0.0
		if m.readOnly {
			ro = 1
		}
		b.add("node_filesystem_device_error", 0, lbl[:]...)
		b.add("node_filesystem_size_bytes", float64(st.Blocks)*bsize, lbl[:]...)
		b.add("node_filesystem_free_bytes", float64(st.Bfree)*bsize, lbl[:]...)
		b.add("node_filesystem_avail_bytes", float64(st.Bavail)*bsize, lbl[:]...)
		b.add("node_filesystem_files", float64(st.Files), lbl[:]...)
		b.add("node_filesystem_files_free", float64(st.Ffree), lbl[:]...)
		b.add("node_filesystem_readonly", ro, lbl[:]...)
	}
}

// excludedMountPoint reports whether mp is one of excl or below one.
func excludedMountPoint(mp string, excl []string) bool {
	for _, e := range excl {
		if mp == e || (strings.HasPrefix(mp, e) && (strings.HasSuffix(e, "/") || mp[len(e)] == '/')) {
			return true
		}
	}
	return false
}
