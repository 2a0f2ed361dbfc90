package protocol

import (
	"errors"
	"fmt"
)

// Code classifies an error response so that clients can react to it
// (retry, re-join, give up) without parsing the message.
type Code uint16

// Error codes. Values are part of the protocol: never renumber.
const (
	CodeUnknown         Code = 1
	CodeBadRequest      Code = 2 // malformed frame or body; the connection is closed
	CodeFrameTooLarge   Code = 3
	CodeUnsupported     Code = 4 // unknown op or version
	CodeNoHello         Code = 5 // a request before Hello
	CodeUnknownTopic    Code = 10
	CodeTopicExists     Code = 11
	CodeOffsetGone      Code = 12 // below the queue's minimum: retention removed it
	CodeCorrupt         Code = 13 // the record failed its checks and is not served
	CodeUnknownGroup    Code = 20
	CodeFenced          Code = 21 // stale generation or member: re-join
	CodeUnknownMember   Code = 22
	CodeGroupActive     Code = 23 // the group has live members
	CodeDiskFull        Code = 30 // retry later
	CodeStoreFailed     Code = 31
	CodeShuttingDown    Code = 32 // retry on another connection
	CodeTimeout         Code = 33
	CodeNotFound        Code = 40
	CodeUnauthenticated Code = 50
)

var codeNames = map[Code]string{
	CodeUnknown: "unknown", CodeBadRequest: "bad_request", CodeFrameTooLarge: "frame_too_large",
	CodeUnsupported: "unsupported", CodeNoHello: "no_hello", CodeUnknownTopic: "unknown_topic",
	CodeTopicExists: "topic_exists", CodeOffsetGone: "offset_gone", CodeCorrupt: "corrupt",
	CodeUnknownGroup: "unknown_group", CodeFenced: "fenced", CodeUnknownMember: "unknown_member",
	CodeGroupActive: "group_active", CodeDiskFull: "disk_full", CodeStoreFailed: "store_failed",
	CodeShuttingDown: "shutting_down", CodeTimeout: "timeout", CodeNotFound: "not_found",
	CodeUnauthenticated: "unauthenticated",
}

func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Retriable reports whether the same request may succeed later.
func (c Code) Retriable() bool {
	switch c {
	case CodeDiskFull, CodeShuttingDown, CodeTimeout, CodeStoreFailed:
		return true
	}
	return false
}

// Error is an error response.
//
//	code u16 (as u32 on the wire for alignment-free growth) | message str
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("broker: %s: %s", e.Code, e.Message) }

// Is lets errors.Is match an *Error by code: errors.Is(err, &Error{Code: CodeFenced}).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && t.Message == ""
}

// Errorf builds an error response.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Append encodes e after dst.
func (e *Error) Append(dst []byte) []byte {
	w := enc{b: dst}
	w.u32(uint32(e.Code))
	w.str(e.Message)
	return w.b
}

// Decode decodes b into e.
func (e *Error) Decode(b []byte) error {
	d := dec{b: b}
	c := d.u32("code")
	if c == 0 || c > 0xffff {
		// 0 is what CodeOf says of an error that is not a response.
		d.fail(fmt.Sprintf("error code %d out of range", c))
	}
	e.Code = Code(c)
	e.Message = d.str("message")
	return d.end()
}

// CodeOf returns the code of an error response in err's chain, or 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
