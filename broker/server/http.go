package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/internal/debughttp"
)

// maxAPIBody bounds the JSON body of an API request.
const maxAPIBody = 1 << 20

// httpHandler serves /metrics, /healthz, /readyz and the JSON API.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	debughttp.Register(mux)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch s.state.Load() {
		case stateServing:
			io.WriteString(w, "ready\n")
		case stateStarting:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		default:
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		}
	})
	api := func(pattern string, h func(*http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, s.apiHandler(h))
	}
	api("GET /api/v1/topics", func(*http.Request) (int, any, error) {
		return http.StatusOK, s.listTopics(), nil
	})
	api("POST /api/v1/topics", s.httpCreateTopic)
	api("GET /api/v1/topics/{name}", func(r *http.Request) (int, any, error) {
		info, err := s.describeTopic(r.PathValue("name"))
		return http.StatusOK, info, err
	})
	api("DELETE /api/v1/topics/{name}", func(r *http.Request) (int, any, error) {
		return http.StatusNoContent, nil, s.deleteTopic(r.PathValue("name"))
	})
	api("GET /api/v1/groups", func(*http.Request) (int, any, error) {
		return http.StatusOK, protocol.ListGroupsResponse{Groups: nonNil(s.groups.List())}, nil
	})
	api("GET /api/v1/groups/{group}", func(r *http.Request) (int, any, error) {
		infos, err := s.groups.Describe(r.PathValue("group"))
		return http.StatusOK, protocol.ListGroupsResponse{Groups: nonNil(infos)}, err
	})
	api("GET /api/v1/messages/{id}", s.httpGetMessage)
	api("GET /api/v1/messages", s.httpQueryKey)
	return mux
}

// serveMetrics writes the server's, the store's and the coordinator's sets.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.m.set.WritePrometheus(w)
	if st := s.state.Load(); st == stateServing || st == stateShuttingDown {
		s.store.Metrics().WritePrometheus(w)
		s.groups.Metrics().WritePrometheus(w)
	}
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// apiHandler runs h while the broker serves and writes its result as JSON.
func (s *Server) apiHandler(h func(*http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.state.Load() != stateServing {
			writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "the broker is not serving", Code: protocol.CodeShuttingDown.String()})
			return
		}
		status, v, err := h(r)
		if err != nil {
			pe := s.toProtocolError(err)
			s.m.errorCode(pe.Code).Inc()
			writeJSON(w, httpStatus(pe.Code), apiError{Error: pe.Message, Code: pe.Code.String()})
			return
		}
		if v == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// httpStatus is the HTTP status that fits an error code.
func httpStatus(c protocol.Code) int {
	switch c {
	case protocol.CodeBadRequest, protocol.CodeOffsetGone:
		return http.StatusBadRequest
	case protocol.CodeUnknownTopic, protocol.CodeUnknownGroup, protocol.CodeUnknownMember, protocol.CodeNotFound:
		return http.StatusNotFound
	case protocol.CodeTopicExists, protocol.CodeGroupActive, protocol.CodeFenced:
		return http.StatusConflict
	case protocol.CodeDiskFull, protocol.CodeShuttingDown, protocol.CodeStoreFailed:
		return http.StatusServiceUnavailable
	case protocol.CodeTimeout:
		return http.StatusGatewayTimeout
	case protocol.CodeUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

func (s *Server) httpCreateTopic(r *http.Request) (int, any, error) {
	var req protocol.CreateTopic
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, nil, protocol.Errorf(protocol.CodeBadRequest, "request body: %v; want {\"name\": \"...\", \"queues\": N}", err)
	}
	info, err := s.createTopic(req.Name, req.Queues)
	return http.StatusCreated, info, err
}

func (s *Server) httpGetMessage(r *http.Request) (int, any, error) {
	resp, err := s.getMessage(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	m, err := decodeFound(resp.Messages[0])
	return http.StatusOK, m, err
}

// messagesJSON is the body of a key query.
type messagesJSON struct {
	Messages []messageJSON `json:"messages"`
}

func (s *Server) httpQueryKey(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	topic, key := q.Get("topic"), q.Get("key")
	if topic == "" || !q.Has("key") {
		return 0, nil, protocol.Errorf(protocol.CodeBadRequest, "want /api/v1/messages?topic=T&key=K or /api/v1/messages/{id}")
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return 0, nil, protocol.Errorf(protocol.CodeBadRequest, "limit %q is not a count", l)
		}
		limit = n
	}
	resp, err := s.queryKey(topic, key, limit)
	if err != nil {
		return 0, nil, err
	}
	out := messagesJSON{Messages: []messageJSON{}}
	for _, fm := range resp.Messages {
		m, err := decodeFound(fm)
		if err != nil {
			return 0, nil, err
		}
		if m.Key == key { // the index holds hashes, which may collide
			out.Messages = append(out.Messages, m)
		}
	}
	return http.StatusOK, out, nil
}

// errNoMessage means a found record does not hold the message it should.
var errNoMessage = errors.New("message not in its batch")
