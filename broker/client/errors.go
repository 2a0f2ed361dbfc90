package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/broker/protocol"
)

// ErrClosed is returned by every call on a closed Client, Producer or
// Consumer, and fails the requests in flight when the Client closes.
var ErrClosed = errors.New("closed")

// ErrUnavailable wraps every error that means the broker could not be
// reached or the connection broke before the response came: the request may
// or may not have been applied, and it may be retried.
var ErrUnavailable = errors.New("broker unavailable")

// ErrRequestTimeout means the broker did not answer within the request
// timeout. Like ErrUnavailable, the request may have been applied.
var ErrRequestTimeout = errors.New("request timed out")

// ErrFenced is what a FencedError matches with errors.Is.
var ErrFenced = errors.New("fenced")

// FencedError says that a commit was refused because this member no
// longer owns the queues: they moved to another member, which will consume
// them from the group's last committed offsets. The consumer has dropped
// them already; the caller may ignore this error.
type FencedError struct {
	Group, Topic string
	Queues       []uint32 // the queues whose offsets were not committed
	Err          error    // the broker's reply
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("group %s topic %s: queues %v moved to another member, their offsets were not committed: %v",
		e.Group, e.Topic, e.Queues, e.Err)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

func (e *FencedError) Unwrap() error { return e.Err }

// IsRetriable reports whether the operation that returned err may succeed
// if repeated: the broker was unreachable or did not answer in time, or it
// answered with a code that says "later" (disk full, shutting down, store
// failure, timeout).
func IsRetriable(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) {
		return false
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRequestTimeout) ||
		protocol.CodeOf(err).Retriable()
}

// isCode reports whether err is a broker error with one of codes.
func isCode(err error, codes ...protocol.Code) bool {
	c := protocol.CodeOf(err)
	return c != 0 && slices.Contains(codes, c)
}

// ctxDone reports whether err comes from a context that is done.
func ctxDone(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
