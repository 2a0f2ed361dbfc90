package measure

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestSumMetric(t *testing.T) {
	page := `# HELP vm_rows_inserted_total x
vm_rows_inserted_total{type="influx"} 0
vm_rows_inserted_total{type="promremotewrite"} 4200
vm_rows_inserted_total_other 9
vm_rows_inserted_total{type="vmimport"} 1.5e3
vm_rows_added_to_storage_total 7
`
	n, err := SumMetric(strings.NewReader(page), "vm_rows_inserted_total")
	if err != nil || n != 5700 {
		t.Fatalf("sum %v, %v; want 5700", n, err)
	}
	if _, err := SumMetric(strings.NewReader("up 1\n"), "vm_rows_inserted_total"); err == nil {
		t.Fatal("a page without vm_rows_inserted_total summed")
	}
}

// This process's CPU time grows with work it does, and its memory
// figures are there.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	after, err := CPU(pid)
	if err != nil || after-before < 30*time.Millisecond {
		t.Fatalf("CPU %v -> %v (%v) over 100 ms of spinning", before, after, err)
	}
	peak, err1 := MemMiB(pid, "VmHWM")
	rss, err2 := MemMiB(pid, "VmRSS")
	if err1 != nil || err2 != nil || rss <= 0 || peak <= 0 {
		t.Fatalf("VmHWM %v (%v), VmRSS %v (%v)", peak, err1, rss, err2)
	}
	if _, err := MemMiB(pid, "VmNothing"); err == nil {
		t.Fatal("a field that is not there was read")
	}
}
