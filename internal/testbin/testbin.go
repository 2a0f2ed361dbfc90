package testbin

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Require returns the path of the program name, looked up on PATH and in
// the usual system directories; without it the test is skipped, or fails
// when SLUICE_E2E_REQUIRED=1.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("SLUICE_E2E_REQUIRED") == "1" {
		t.Fatalf("%s is not installed and SLUICE_E2E_REQUIRED=1", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
