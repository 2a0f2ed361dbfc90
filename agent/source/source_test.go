package source

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Prop and AllProps see a record's properties as the message's reader
// will: Shared, overridden by Properties, overridden by Extra.
func TestRecordProperties(t *testing.T) {
	shared := protocol.NewProps(map[string]string{"host": "h", "file": "f", "env": "prod"})
	r := Record{Shared: shared, Properties: map[string]string{"file": "g"}, Extra: Property{Name: "env", Value: "dev"}}
	for name, want := range map[string]string{"host": "h", "file": "g", "env": "dev", "none": ""} {
		if got := r.Prop(name); got != want {
			t.Errorf("Prop(%q) = %q, want %q", name, got, want)
		}
	}
	if got, want := r.AllProps(), map[string]string{"host": "h", "file": "g", "env": "dev"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AllProps() = %v, want %v", got, want)
	}
	plain := Record{Properties: map[string]string{"a": "b"}}
	if got := plain.AllProps(); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(plain.Properties).UnsafePointer() {
		t.Error("AllProps copied a plain record's map")
	}
	if (&Record{}).Prop("x") != "" {
		t.Error("an empty record has a property")
	}
}
