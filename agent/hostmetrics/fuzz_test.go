package hostmetrics

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/prometheus/prompb"
)

// The fuzz targets feed the parsers arbitrary bytes. Each must return
// without panicking; an error must be a ParseError naming the file and a
// line that exists; a success must give series a remote-write receiver
// accepts. Seeds: the fixtures, and testdata/fuzz/<target>/.

func FuzzParseStat(f *testing.F) {
	fuzzParser(f, "stat", func(b *builder, file string, data []byte) error {
		return parseStat(b, file, data, true, true)
	})
}

func FuzzParseMeminfo(f *testing.F)   { fuzzParser(f, "meminfo", parseMeminfo) }
func FuzzParseDiskstats(f *testing.F) { fuzzParser(f, "diskstats", parseDiskstats) }
func FuzzParseNetDev(f *testing.F)    { fuzzParser(f, "net/dev", parseNetDev) }
func FuzzParseLoadavg(f *testing.F)   { fuzzParser(f, "loadavg", parseLoadavg) }

func FuzzParseMounts(f *testing.F) {
	f.Add(fixture(f, "self/mountinfo"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder("node", "h")
		mounts, err := parseMounts(b, "/proc/x", data, nil)
		if err != nil {
			checkParseError(t, err, data)
			return
		}
		for _, m := range mounts {
			if m.mountPoint == "" || m.mountPoint[0] != '/' || m.fsType == "" || m.device == "" {
				t.Fatalf("mount %+v", m)
			}
		}
		// The filesystem collector must make valid series of any of them.
		c := &Collector{cfg: Config{RootfsPath: "/"}, fsTypes: map[string]bool{}, fsSeen: map[fsKey]bool{},
			statfs: fakeStatfs(nil)}
		b.reset(1)
		c.addFilesystems(b, mounts)
		for _, s := range b.series {
			checkFuzzedSeries(t, s)
		}
	})
}

func fuzzParser(f *testing.F, fixtureName string, parse func(b *builder, file string, data []byte) error) {
	f.Add(fixture(f, fixtureName))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder("node", "h")
		b.reset(1)
		if err := parse(b, "/proc/x", data); err != nil {
			checkParseError(t, err, data)
			return
		}
		for _, s := range b.series {
			checkFuzzedSeries(t, s)
		}
	})
}

func checkParseError(t *testing.T, err error, data []byte) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a ParseError", err)
	}
	if pe.File != "/proc/x" || pe.Line < 1 || pe.Line > bytes.Count(data, []byte("\n"))+1 {
		t.Fatalf("error %v: file or line wrong for %d lines", err, bytes.Count(data, []byte("\n"))+1)
	}
}

// checkFuzzedSeries adds to checkSeries what only garbage can break: a
// valid metric name and UTF-8 label values.
func checkFuzzedSeries(t *testing.T, s prompb.TimeSeries) {
	t.Helper()
	checkSeries(t, s, 1)
	if !validMetricName(s.Labels[0].Value) {
		t.Fatalf("invalid metric name %q", s.Labels[0].Value)
	}
	for _, l := range s.Labels {
		if !utf8.ValidString(l.Value) {
			t.Fatalf("label %s value %q is not UTF-8", l.Name, l.Value)
		}
	}
}

// validMetricName is Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}
