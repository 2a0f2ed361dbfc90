package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/debughttp"
)

// httpServer serves /metrics, /healthz and POST /-/reload.
type httpServer struct {
	srv  *http.Server
	l    net.Listener
	done chan struct{}
}

func (c *Collector) serveHTTP(addr string) (*httpServer, error) {
	if addr == "off" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("collector http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { c.set.WritePrometheus(w) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	debughttp.Register(mux)
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := c.ReloadFile(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	h := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, l: l, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.lg.Error("collector http", "err", err)
		}
	}()
	return h, nil
}

func (h *httpServer) addr() string {
	if h == nil {
		return ""
	}
	return h.l.Addr().String()
}

func (h *httpServer) shutdown(ctx context.Context) error {
	if h == nil {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	<-h.done
	return err
}
