package httpclient

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"":                  "url: is required: say where",
		"example.com/in":    `url: "example.com/in" is not an http or https URL`,
		"ftp://example.com": `url: "ftp://example.com" is not an http or https URL`,
		"http:///in":        `url: "http:///in" is not an http or https URL`,
		"https://u:p@h/in":  "",
	} {
		u, err := ParseURL(raw, "is required: say where")
		var got string
		for _, fe := range component.FieldErrors(err) {
			got = fe.Path + ": " + fe.Msg
		}
		if got != want || (err == nil && u.Host != "h") {
			t.Errorf("ParseURL(%q) = %v, %q; want %q", raw, u, got, want)
		}
	}
}

func TestBatchingValidate(t *testing.T) {
	b := Batching{Compression: "br", BatchBytes: -1,
		Retry:      config.Retry{MaxElapsed: -1, InitialBackoff: config.Duration(2e9), MaxBackoff: config.Duration(1e9)},
		HTTPClient: config.HTTPClient{Timeout: -1}}
	var got []string
	for _, fe := range component.FieldErrors(b.Validate()) {
		got = append(got, fe.Path+": "+fe.Msg)
	}
	want := `compression: "br" is not none or gzip|batch_bytes: must not be negative|retry.max_elapsed: must not be negative|` +
		"retry.initial_backoff: 2s is more than retry.max_backoff 1s|timeout: must not be negative"
	if strings.Join(got, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	if err := (&Batching{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// A gzip BatchSender says so in Content-Encoding and sends the body
// compressed, twice over the same buffers.
func TestBatchSenderGzip(t *testing.T) {
	var (
		mu  sync.Mutex // the handler runs on the server's goroutine
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gunzip: %v", err)
			return
		}
		b, _ := io.ReadAll(zr)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Content-Encoding")+" "+r.Header.Get("Content-Type")+" "+string(b))
	}))
	defer srv.Close()
	set := component.Settings{Name: "t", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()}
	s, err := NewBatchSender(Batching{Compression: "gzip"}, "test", http.MethodPost, "POST", srv.URL, http.Header{"Content-Type": {"text/plain"}}, set)
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdle()
	if s.BatchBytes() != DefaultBatchBytes {
		t.Errorf("BatchBytes %d, want the default %d", s.BatchBytes(), DefaultBatchBytes)
	}
	for _, body := range []string{"first body", "second"} {
		if err := s.Post(context.Background(), []byte(body), 1); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "gzip text/plain first body|gzip text/plain second"; strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
}
