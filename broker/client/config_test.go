package client

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	d := c.withDefaults()
	if d.Addr != DefaultAddr || d.ClientName != DefaultClientName || d.ClientID == "" ||
		d.DialTimeout != DefaultDialTimeout || d.RequestTimeout != DefaultRequestTimeout ||
		d.MinBackoff != DefaultMinBackoff || d.MaxBackoff != DefaultMaxBackoff || d.Logger == nil || d.Metrics == nil {
		t.Fatalf("defaults not applied: %+v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative dial", Config{DialTimeout: -1}, "dial timeout"},
		{"negative request", Config{RequestTimeout: -time.Second}, "request timeout"},
		{"tiny frame", Config{MaxFrame: 100}, "max frame"},
		{"backoff order", Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "exceeds max back-off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}

func TestProducerConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  ProducerConfig
		want string
	}{
		{ProducerConfig{Compression: "zstd"}, "compression"},
		{ProducerConfig{BatchBytes: -1}, "batch bytes"},
		{ProducerConfig{BatchBytes: 1 << 30}, "batch bytes"},
		{ProducerConfig{MaxBufferedBytes: -5}, "buffered"},
		{ProducerConfig{DeliveryTimeout: -time.Second}, "delivery timeout"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate() = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
	var zero ProducerConfig
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero producer config: %v", err)
	}
	d := zero.withDefaults()
	if d.BatchBytes != DefaultBatchBytes || d.Linger != DefaultLinger || d.Compression != "lz4" ||
		d.MaxBufferedBytes != DefaultMaxBufferedBytes || d.DeliveryTimeout != DefaultDeliveryTimeout {
		t.Fatalf("producer defaults not applied: %+v", d)
	}
}

func TestConsumerConfigValidate(t *testing.T) {
	ok := ConsumerConfig{Group: "g", Topic: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal consumer config: %v", err)
	}
	d := ok.withDefaults()
	if d.Mode != "clustering" || d.StartFrom != "earliest" || d.SessionTimeout != DefaultSessionTimeout ||
		d.MaxWait != DefaultMaxWait || d.MaxBytes != DefaultFetchBytes {
		t.Fatalf("consumer defaults not applied: %+v", d)
	}
	for _, tt := range []struct {
		cfg  ConsumerConfig
		want string
	}{
		{ConsumerConfig{Topic: "t"}, "group is required"},
		{ConsumerConfig{Group: "g"}, "topic is required"},
		{ConsumerConfig{Group: "g", Topic: "t", Mode: "fanout"}, "mode"},
		{ConsumerConfig{Group: "g", Topic: "t", StartFrom: "yesterday"}, "start from"},
		{ConsumerConfig{Group: "g", Topic: "t", Tags: "A || "}, "empty tag"},
		{ConsumerConfig{Group: "g", Topic: "t", OffsetsFile: "x"}, "broadcasting"},
		{ConsumerConfig{Group: "g", Topic: "t", MaxWait: -1}, "negative"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate() = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
	if err := (&ConsumerConfig{Group: "g", Topic: "t", StartFrom: "2024-05-01T10:00:00Z"}).Validate(); err != nil {
		t.Errorf("RFC 3339 start: %v", err)
	}
}
