package server

import (
	"context"
	"errors"
	"strings"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

// decode decodes a request body and returns the handler that runs it. A
// body that does not decode is a protocol error (the connection closes); an
// unknown op is a *protocol.Error with CodeUnsupported (it stays open).
func (s *Server) decode(op protocol.Op, body []byte) (handlerFunc, error) {
	switch op {
	case protocol.OpHello:
		return jsonOp(body, func(_ *conn, _ *protocol.Hello) (protocol.HelloResponse, error) {
			return protocol.HelloResponse{Version: protocol.Version, BrokerID: s.cfg.BrokerID, MaxFrame: s.cfg.MaxFrame,
				AutoCreateTopics: s.cfg.AutoCreateTopics}, nil
		})
	case protocol.OpProduce:
		return s.decodeProduce(body)
	case protocol.OpFetch:
		return s.decodeFetch(body)
	case protocol.OpCreateTopic:
		return jsonOp(body, func(_ *conn, r *protocol.CreateTopic) (protocol.TopicInfo, error) {
			return s.createTopic(r.Name, r.Queues)
		})
	case protocol.OpDeleteTopic:
		return jsonOp(body, func(_ *conn, r *protocol.DeleteTopic) (protocol.Empty, error) {
			return protocol.Empty{}, s.deleteTopic(r.Name)
		})
	case protocol.OpListTopics:
		return jsonOp(body, func(_ *conn, _ *protocol.Empty) (protocol.ListTopicsResponse, error) {
			return s.listTopics(), nil
		})
	case protocol.OpDescribeTopic:
		return jsonOp(body, func(_ *conn, r *protocol.TopicRef) (protocol.TopicInfo, error) {
			return s.describeTopic(r.Name)
		})
	case protocol.OpGetMessage:
		return jsonOp(body, func(_ *conn, r *protocol.GetMessage) (protocol.MessagesResponse, error) {
			return s.getMessage(r.ID)
		})
	case protocol.OpQueryKey:
		return jsonOp(body, func(_ *conn, r *protocol.QueryKey) (protocol.MessagesResponse, error) {
			return s.queryKey(r.Topic, r.Key, r.Limit)
		})
	}
	return s.decodeGroupOp(op, body)
}

// jsonOp decodes a JSON request now and returns a handler that runs fn and
// encodes its result.
func jsonOp[Req, Resp any](body []byte, fn func(c *conn, r *Req) (Resp, error)) (handlerFunc, error) {
	req := new(Req)
	// An empty body is an empty object, for requests without fields.
	if len(body) > 0 {
		if err := protocol.UnmarshalJSON(body, req); err != nil {
			return nil, err
		}
	}
	return func(c *conn) reply {
		resp, err := fn(c, req)
		if err != nil {
			return reply{err: err}
		}
		b, err := protocol.MarshalJSON(resp)
		return reply{body: b, err: err}
	}, nil
}

// toProtocolError turns a handler's error into the error response a
// client can act on: broker codes pass unchanged, store errors map to
// theirs.
func (s *Server) toProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe == err {
			return pe
		}
		// Keep the context wrapped around it, without the "broker: code:"
		// prefix of pe.Error.
		return &protocol.Error{Code: pe.Code, Message: strings.Replace(err.Error(), pe.Error(), pe.Message, 1)}
	}
	return &protocol.Error{Code: codeOf(err), Message: err.Error()}
}

// codeOf classifies an error that is not already a *protocol.Error.
func codeOf(err error) protocol.Code {
	var ce *store.CorruptError
	switch {
	case errors.Is(err, store.ErrDiskFull):
		return protocol.CodeDiskFull
	case errors.Is(err, store.ErrFailed):
		return protocol.CodeStoreFailed
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		return protocol.CodeShuttingDown
	case errors.Is(err, context.DeadlineExceeded):
		return protocol.CodeTimeout
	case errors.Is(err, store.ErrOffsetGone):
		return protocol.CodeOffsetGone
	case errors.Is(err, store.ErrNotFound):
		return protocol.CodeNotFound
	case errors.As(err, &ce):
		return protocol.CodeCorrupt
	}
	return protocol.CodeUnknown
}
