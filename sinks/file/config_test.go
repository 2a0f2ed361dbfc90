package file

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // "path: message", in order
	}{
		{"defaults", Config{Path: "out.log"}, nil},
		{"everything", Config{Path: "./out/{{ meta.host }}/app-%Y-%m-%dT%H%M%S.%j.log", Timezone: "Europe/Paris",
			Encoding: "text", Compress: "zstd", Keep: 3, MaxOpenFiles: 10, Mode: 0o600,
			Rotate: Rotate{MaxSize: 1 << 20, MaxAge: config.Duration(3600e9)}}, nil},
		{"empty path", Config{}, []string{
			"path: is required: the file to write, e.g. ./out/app-%Y-%m-%d.log"}},
		{"bad encoding", Config{Path: "a", Encoding: "xml"}, []string{
			`encoding: "xml" is not an encoding (want json or text)`}},
		{"bad compress", Config{Path: "a", Compress: "lz4"}, []string{
			`compress: "lz4" is not a compression (want none, gzip or zstd)`}},
		{"unknown timezone", Config{Path: "a", Timezone: "Mars/Olympus"}, []string{
			`timezone: "Mars/Olympus" is not a known time zone (want UTC, Local or an IANA name such as Europe/Paris)`}},
		{"bad conversion", Config{Path: "a-%x.log"}, []string{
			`path: "a-%x.log": %x is not a conversion (want %Y, %m, %d, %H, %M, %S, %j or %%)`}},
		{"lone percent", Config{Path: "a-%"}, []string{
			`path: "a-%" ends in a lone %: write %% for a literal %`}},
		{"unclosed braces", Config{Path: "a-{{ meta.host"}, []string{
			`path: "a-{{ meta.host" has a {{ with no }} after it`}},
		{"stray braces", Config{Path: "a-}}"}, []string{
			`path: "a-}}" has a }} with no {{ before it`}},
		{"empty ref", Config{Path: "a-{{ }}"}, []string{
			`path: "a-{{ }}": empty {{ }}: want {{ field.path }} or {{ meta.key }}`}},
		{"directory", Config{Path: "out/"}, []string{
			`path: "out/" ends in /: want a file name after the last /`}},
		{"negatives", Config{Path: "a", Keep: -1, MaxOpenFiles: -2, IdleClose: -1e9,
			Rotate: Rotate{MaxSize: -1, MaxAge: -1e9}}, []string{
			"rotate.max_size: -1 is negative (want a size such as 64MiB, or 0 for no limit)",
			"rotate.max_age: -1s is negative (want a duration such as 1h, or 0 for no limit)",
			"keep: -1 is negative (want how many rotated files to keep, or 0 for all)",
			"max_open_files: -2 is negative (want at least 1, or 0 for 256)",
			"idle_close: -1s is negative (want a duration such as 1m)"}},
		{"mode", Config{Path: "a", Mode: 0o1777}, []string{
			"mode: 01777 is not a file permission (want octal bits such as 0644)"}},
		{"several", Config{Encoding: "xml", Compress: "lz4"}, []string{
			"path: is required: the file to write, e.g. ./out/app-%Y-%m-%d.log",
			`encoding: "xml" is not an encoding (want json or text)`,
			`compress: "lz4" is not a compression (want none, gzip or zstd)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range component.FieldErrors(tt.cfg.Validate()) {
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewRefusesInvalid(t *testing.T) {
	_, err := New(Config{Path: "a", Encoding: "xml"}, testSettings())
	want := `file sink out: encoding: "xml" is not an encoding (want json or text)`
	if err == nil || err.Error() != want {
		t.Fatalf("New: %v, want %s", err, want)
	}
}

func TestModeYAML(t *testing.T) {
	tests := []struct {
		src     string
		want    Mode
		wantErr string
	}{
		{"mode: 0644", 0o644, ""},
		{`mode: "0600"`, 0o600, ""},
		{"mode: 0o640", 0o640, ""},
		{"mode: 755", 0o755, ""},
		{"mode: 0999", 0, `invalid file mode "0999" (want octal permission bits such as 0644 or 0600)`},
		{"mode: 01644", 0, `invalid file mode "01644" (want octal permission bits such as 0644 or 0600)`},
		{"mode: rw", 0, `invalid file mode "rw" (want octal permission bits such as 0644 or 0600)`},
	}
	for _, tt := range tests {
		var c struct {
			Mode Mode `yaml:"mode"`
		}
		err := yaml.Unmarshal([]byte(tt.src), &c)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr || c.Mode != tt.want {
			t.Errorf("%s: got %#o, %q; want %#o, %q", tt.src, c.Mode, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestDirMode(t *testing.T) {
	for mode, want := range map[Mode]uint32{0o644: 0o755, 0o600: 0o700, 0o640: 0o750, 0o444: 0o755, 0o000: 0o700} {
		if got := uint32(mode.dirMode()); got != want {
			t.Errorf("dirMode(%#o) = %#o, want %#o", mode, got, want)
		}
	}
}
