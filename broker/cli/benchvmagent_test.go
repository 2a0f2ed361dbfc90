package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testbin"
)

// TestVMAgentBaseline runs the --vmagent half of `bench agent --scrape`
// briefly. (The sluice half runs this executable as the agent, which a
// test binary is not.)
func TestVMAgentBaseline(t *testing.T) {
	testbin.Require(t, "vmagent")
	testbin.Require(t, "victoria-metrics")
	// 10 x 1,000 rather than fewer: at 112 samples/s (2 x 50) vmagent
	// spends less than /proc's 10 ms clock tick in 3 s and its CPU reads 0.
	const targets, series = 10, 1000
	e, err := startExporters(targets, series)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	o := &scrapeBenchOpts{targets: targets, series: series, interval: time.Second, warmup: 2 * time.Second, duration: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log bytes.Buffer
	v, err := measureVMAgent(ctx, o, e.addrs, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("%+v", *v)
	want := float64(targets*(series+vmagentSyntheticSeries)) / o.interval.Seconds()
	if v.SamplesPerSec < want/2 || v.SamplesPerSec > want*2 {
		t.Errorf("vmagent: %.0f samples/s, want about %.0f", v.SamplesPerSec, want)
	}
	if v.DeliveredPerSec <= 0 {
		t.Errorf("victoria-metrics took in %.0f samples/s", v.DeliveredPerSec)
	}
	// About 2.6 s per million here; 0.1 to 100 only tells a measurement
	// from a broken one on a loaded 2-core machine.
	if v.CPUSeconds <= 0 || v.CPUSeconds > v.Seconds*2 || v.CPUPerMillion < 0.1 || v.CPUPerMillion > 100 {
		t.Errorf("vmagent CPU %.2f s (%.2f s per million samples) in %.1f s", v.CPUSeconds, v.CPUPerMillion, v.Seconds)
	}
	// The end's RSS is read just after the peak, so it may have grown.
	if v.PeakRSSMiB < 1 || v.PeakRSSMiB > 2048 || v.RSSMiB < 1 || v.RSSMiB > v.PeakRSSMiB*1.1 {
		t.Errorf("vmagent RSS %.1f MiB peak, %.1f MiB at the end", v.PeakRSSMiB, v.RSSMiB)
	}
	if v.Seconds < 3 || v.Seconds > 10 {
		t.Errorf("window %.1f s, want 3", v.Seconds)
	}
}

func TestVMBinariesNameTheMissingOne(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, err := vmBinaries()
	if err == nil || !strings.Contains(err.Error(), "victoria-metrics is not on PATH") {
		t.Fatalf("err %v, want one naming victoria-metrics", err)
	}
}

func TestPrintScrapeResultWithVMAgent(t *testing.T) {
	r := &ScrapeBenchResult{Targets: 2, SeriesPerTarget: 50, IntervalSeconds: 1, CPUPerMillion: 1, PeakRSSMiB: 30,
		CPUPerMillionVsVMAgent: 0.5, PeakRSSVsVMAgent: 0.5}
	r.VMAgent = &VMAgentBaseline{CPUSeconds: 0.5, CPUPerMillion: 2, PeakRSSMiB: 60, RSSMiB: 50, SamplesPerSec: 112}
	var b bytes.Buffer
	printScrapeResult(&b, r)
	for _, want := range []string{"vmagent CPU 0.50 s, 2.00 s per million samples (same run", "vmagent RSS 60.0 MiB peak, 50.0 MiB at the end",
		"sluice/vmagent  CPU per million samples 0.50, peak RSS 0.50"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	r.VMAgent = nil
	b.Reset()
	printScrapeResult(&b, r)
	if strings.Contains(b.String(), "vmagent CPU") {
		t.Errorf("report without a baseline prints one:\n%s", b.String())
	}
}
