package hostmetrics

import "syscall"

// addUname adds node_uname_info, whose labels say which kernel and
// machine the host runs; dashboards join on it for the host's name.
func addUname(b *builder) error {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return err
	}
	b.add("node_uname_info", 1,
		"domainname", utsField(b, u.Domainname[:]),
		"machine", utsField(b, u.Machine[:]),
		"nodename", utsField(b, u.Nodename[:]),
		"release", utsField(b, u.Release[:]),
		"sysname", utsField(b, u.Sysname[:]),
		"version", utsField(b, u.Version[:]))
	return nil
}

// utsField interns a NUL-terminated utsname field (int8 or uint8
// depending on the architecture).
func utsField[T int8 | uint8](b *builder, f []T) string {
	var buf [65]byte
	n := 0
	for n < len(f) && n < len(buf) && f[n] != 0 {
		buf[n] = byte(f[n])
		n++
	}
	return b.str(buf[:n])
}
