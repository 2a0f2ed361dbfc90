package rwtest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Post sends body, a snappy-compressed WriteRequest, to url with the
// headers remote write 1.0 requires; hdr adds or overrides headers. It
// returns the response's status code and body.
func Post(t testing.TB, url string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// MustPost is Post that fails the test unless the answer is 2xx.
func MustPost(t testing.TB, url string, body []byte) {
	t.Helper()
	if code, msg := Post(t, url, body, nil); code/100 != 2 {
		t.Fatalf("remote write to %s: %d: %s", url, code, msg)
	}
}
