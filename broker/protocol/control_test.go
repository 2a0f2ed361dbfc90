package protocol

import (
	"errors"
	"reflect"
	"testing"
)

func TestControlBodiesRoundTrip(t *testing.T) {
	tests := []struct {
		in, out any
	}{
		{
			&Hello{Version: 1, ClientName: "agent", ClientID: "host-1/42", Credentials: map[string]string{"token": "s3cret"}},
			&Hello{},
		},
		{
			&Assignment{MemberID: "m-1", Generation: 7, HeartbeatMs: 3000,
				Queues: []QueuePosition{{Queue: 0, Offset: 10}, {Queue: 3, Offset: -1}}},
			&Assignment{},
		},
		{
			&GroupInfo{Group: "g", Topic: "t", Mode: ModeClustering, Generation: 2, TotalLag: 5,
				Members: []MemberInfo{{MemberID: "m", Queues: []uint32{1, 2}}},
				Lag:     []QueueLag{{Queue: 1, Committed: 3, Max: 8, Lag: 5, OldestAgeMs: 1200, Owner: "m"}}},
			&GroupInfo{},
		},
		{
			&MessagesResponse{Messages: []FoundMessage{{Topic: "t", Queue: 1, Offset: 2, Record: []byte{0, 1, 0xff}}}},
			&MessagesResponse{},
		},
	}
	for _, tt := range tests {
		b, err := MarshalJSON(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := UnmarshalJSON(b, tt.out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(tt.in, tt.out) {
			t.Errorf("%T: decoded %+v from %s", tt.in, tt.out, b)
		}
	}
}

// The field names are the contract with other peers; unknown fields are
// ignored so that a newer peer can add some.
func TestControlBodiesCompatibility(t *testing.T) {
	var j JoinGroup
	in := `{"group":"g","topic":"t","mode":"broadcasting","start_from":"earliest","session_timeout_ms":10000,"tags":"A || B","added_later":{"x":1}}`
	if err := UnmarshalJSON([]byte(in), &j); err != nil {
		t.Fatal(err)
	}
	want := JoinGroup{Group: "g", Topic: "t", Mode: ModeBroadcasting, StartFrom: "earliest", SessionTimeoutMs: 10000, Tags: "A || B"}
	if j != want {
		t.Fatalf("decoded %+v, want %+v", j, want)
	}
	b, _ := MarshalJSON(&CreateTopic{Name: "t"})
	if string(b) != `{"name":"t"}` {
		t.Fatalf("CreateTopic with default queues encodes as %s", b)
	}
	for _, bad := range []string{``, `{`, `{"queues":"four"}`, `[1]`} {
		var c CreateTopic
		if err := UnmarshalJSON([]byte(bad), &c); !errors.Is(err, ErrBadBody) {
			t.Errorf("UnmarshalJSON(%q): %v, want ErrBadBody", bad, err)
		}
	}
	var e Empty
	if err := UnmarshalJSON([]byte(`{"anything":true}`), &e); err != nil {
		t.Errorf("Empty: %v", err)
	}
	if b, _ := MarshalJSON(Empty{}); string(b) != "{}" {
		t.Errorf("Empty encodes as %s", b)
	}
}
