package protocol

import "github.com/sluicehq/sluice/broker/store/record"

// The record types clients meet in fetch responses. They are re-exported
// here so that clients depend on this package only, as DESIGN.md asks.
type (
	// RecordHeader is the header of a stored batch.
	RecordHeader = record.Header
	// KeyRef says which message of a batch has a key with which hash.
	KeyRef = record.KeyRef
	// Attr is the set of attribute flags of a batch.
	Attr = record.Attr
)

// Batch attributes.
const (
	AttrLZ4           = record.AttrLZ4
	AttrTransactional = record.AttrTransactional
	AttrDelayed       = record.AttrDelayed
)

// KeyHash is the hash under which the broker indexes a message key.
func KeyHash(topic, key string) uint64 { return record.KeyHash(topic, key) }
