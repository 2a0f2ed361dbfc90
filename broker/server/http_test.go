package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// httpDo sends a request and returns the status and body.
func httpDo(t *testing.T, s *Server, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func httpJSON(t *testing.T, s *Server, method, path, body string, wantStatus int, out any) {
	t.Helper()
	status, b := httpDo(t, s, method, path, body)
	if status != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// metricValue finds a sample in the Prometheus text of /metrics.
func metricValue(t *testing.T, text, name string) (float64, bool) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v, true
		}
	}
	return 0, false
}

func TestHTTPHealthAndMetrics(t *testing.T) {
	s := start(t, testConfig(t))
	if status, b := httpDo(t, s, "GET", "/healthz", ""); status != 200 || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("healthz: %d %q", status, b)
	}
	if status, _ := httpDo(t, s, "GET", "/readyz", ""); status != 200 {
		t.Fatalf("readyz: %d", status)
	}
	c := connect(t, s)
	c.createTopic("t", 1)
	c.mustProduce(batch("t", 0, bodies("a", "b", "c")...))
	c.mustFetch(protocol.FetchRequest{Topic: "t"})
	_, err := c.fetch(protocol.FetchRequest{Topic: "nope"})
	wantCode(t, err, protocol.CodeUnknownTopic)

	status, b := httpDo(t, s, "GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	text := string(b)
	for name, want := range map[string]float64{
		"sluice_broker_produce_messages_total":                       3,
		"sluice_broker_produce_batches_total":                        1,
		"sluice_broker_fetch_messages_total":                         3,
		"sluice_broker_connections":                                  1,
		`sluice_broker_requests_total{op="produce"}`:                 1,
		`sluice_broker_errors_total{code="unknown_topic"}`:           1,
		`sluice_broker_request_duration_seconds_count{op="produce"}`: 1,
	} {
		got, ok := metricValue(t, text, name)
		if !ok || got != want {
			t.Errorf("%s = %v (found %v), want %v", name, got, ok, want)
		}
	}
	// The store's and the coordinator's sets are served too.
	for _, prefix := range []string{"sluice_store_", "sluice_group_"} {
		if !strings.Contains(text, "\n"+prefix) {
			t.Errorf("/metrics has no %s metrics", prefix)
		}
	}
}

func TestHTTPTopics(t *testing.T) {
	s := start(t, testConfig(t))
	var info protocol.TopicInfo
	httpJSON(t, s, "POST", "/api/v1/topics", `{"name": "logs", "queues": 2}`, http.StatusCreated, &info)
	if info.Name != "logs" || info.Queues != 2 {
		t.Fatalf("created %+v", info)
	}
	var e apiError
	httpJSON(t, s, "POST", "/api/v1/topics", `{"name": "logs", "queues": 2}`, http.StatusConflict, &e)
	if e.Code != "topic_exists" || e.Error == "" {
		t.Fatalf("error body %+v", e)
	}
	httpJSON(t, s, "POST", "/api/v1/topics", `{"name": 1}`, http.StatusBadRequest, &e)
	if e.Code != "bad_request" {
		t.Fatalf("error body %+v", e)
	}

	c := connect(t, s)
	c.mustProduce(batch("logs", 1, bodies("x", "y")...))
	var list protocol.ListTopicsResponse
	httpJSON(t, s, "GET", "/api/v1/topics", "", 200, &list)
	if len(list.Topics) != 1 || list.Topics[0].Name != "logs" {
		t.Fatalf("list %+v", list)
	}
	httpJSON(t, s, "GET", "/api/v1/topics/logs", "", 200, &info)
	if len(info.QueueInfo) != 2 || info.QueueInfo[1].Max != 2 {
		t.Fatalf("describe %+v", info)
	}
	httpJSON(t, s, "GET", "/api/v1/topics/nope", "", http.StatusNotFound, &e)
	if e.Code != "unknown_topic" {
		t.Fatalf("error body %+v", e)
	}
	httpJSON(t, s, "DELETE", "/api/v1/topics/logs", "", http.StatusNoContent, nil)
	httpJSON(t, s, "GET", "/api/v1/topics", "", 200, &list)
	if len(list.Topics) != 0 {
		t.Fatalf("after delete %+v", list)
	}
}

func TestHTTPMessages(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 1)
	born := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC).UnixMilli()
	r := c.mustProduce(batch("t", 0,
		protocol.Message{Key: "order-1", Tags: "new", Properties: map[string]string{"host": "h1"}, Body: []byte("first"), BornMs: born},
		protocol.Message{Key: "order-2", Body: []byte("second"), BornMs: born + 1},
	))
	c.mustProduce(batch("t", 0, protocol.Message{Key: "order-1", Body: []byte("third"), BornMs: born + 2}))

	id := protocol.MessageID(r.Pos, 0)
	var m messageJSON
	httpJSON(t, s, "GET", "/api/v1/messages/"+id, "", 200, &m)
	want := messageJSON{ID: id, Topic: "t", Queue: 0, Offset: 0, Key: "order-1", Tags: "new",
		Properties: map[string]string{"host": "h1"}, Body: "first", BornAt: "2024-05-01T12:00:00.123Z",
		StoredAt: formatMs(r.StoredAtMs)}
	if m.ID != want.ID || m.Key != want.Key || m.Tags != want.Tags || m.Body != want.Body ||
		m.BornAt != want.BornAt || m.StoredAt != want.StoredAt || m.Properties["host"] != "h1" {
		t.Fatalf("message %+v, want %+v", m, want)
	}
	httpJSON(t, s, "GET", "/api/v1/messages/"+protocol.MessageID(r.Pos, 1), "", 200, &m)
	if m.Body != "second" || m.Offset != 1 {
		t.Fatalf("second message %+v", m)
	}
	var e apiError
	httpJSON(t, s, "GET", "/api/v1/messages/"+protocol.MessageID(r.Pos, 2), "", http.StatusNotFound, &e)
	httpJSON(t, s, "GET", "/api/v1/messages/"+protocol.MessageID(1<<40, 0), "", http.StatusNotFound, &e)
	httpJSON(t, s, "GET", "/api/v1/messages/zz", "", http.StatusBadRequest, &e)

	var ms messagesJSON
	httpJSON(t, s, "GET", "/api/v1/messages?topic=t&key=order-1", "", 200, &ms)
	if len(ms.Messages) != 2 || ms.Messages[0].Body != "first" || ms.Messages[1].Body != "third" {
		t.Fatalf("by key: %+v", ms)
	}
	httpJSON(t, s, "GET", "/api/v1/messages?topic=t&key=none", "", 200, &ms)
	if len(ms.Messages) != 0 {
		t.Fatalf("unknown key: %+v", ms)
	}
	httpJSON(t, s, "GET", "/api/v1/messages?topic=nope&key=x", "", http.StatusNotFound, &e)
}

// GetMessage and QueryKey over the wire return whole records.
func TestGetMessageAndQueryKey(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)
	r := c.mustProduce(batch("t", 1, protocol.Message{Key: "k", Body: []byte("a")}, protocol.Message{Body: []byte("b")}))

	var resp protocol.MessagesResponse
	if err := c.callJSON(protocol.OpGetMessage, protocol.GetMessage{ID: protocol.MessageID(r.Pos, 1)}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 1 {
		t.Fatalf("get: %+v", resp)
	}
	fm := resp.Messages[0]
	if fm.Topic != "t" || fm.Queue != 1 || fm.Offset != 1 || fm.Pos != r.Pos {
		t.Fatalf("found %+v", fm)
	}
	if m, err := decodeFound(fm); err != nil || m.Body != "b" {
		t.Fatalf("decoded %+v %v", m, err)
	}
	err := c.callJSON(protocol.OpGetMessage, protocol.GetMessage{ID: protocol.MessageID(r.Pos, 2)}, nil)
	wantCode(t, err, protocol.CodeNotFound)
	err = c.callJSON(protocol.OpGetMessage, protocol.GetMessage{ID: "nonsense"}, nil)
	wantCode(t, err, protocol.CodeBadRequest)

	if err := c.callJSON(protocol.OpQueryKey, protocol.QueryKey{Topic: "t", Key: "k"}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 1 || resp.Messages[0].Offset != 0 || resp.Messages[0].Pos != r.Pos {
		t.Fatalf("query: %+v", resp)
	}
	err = c.callJSON(protocol.OpQueryKey, protocol.QueryKey{Topic: "nope", Key: "k"}, nil)
	wantCode(t, err, protocol.CodeUnknownTopic)
}

func TestHTTPOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTPListen = "off"
	s := start(t, cfg)
	if s.HTTPAddr() != "" {
		t.Fatalf("HTTPAddr %q with HTTP off", s.HTTPAddr())
	}
	connect(t, s).createTopic("t", 1)
}
