package syslog

import (
	"testing"
	"time"
)

func BenchmarkParseRFC5424(b *testing.B) {
	msg := []byte(msg5424)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := ParseRFC5424(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRFC3164(b *testing.B) {
	msg := []byte(msg3164)
	now := time.Now()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		ParseRFC3164(msg, now)
	}
}
