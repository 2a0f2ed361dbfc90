package record

import "sync/atomic"

// topicCache interns the topic names that decoding returns. A broker reads
// records of a few topics over and over, and converting the topic bytes to a
// fresh string each time would be Decode's only allocation. The cache is
// direct-mapped and lossy: a slot keeps the last topic hashed to it and a
// miss just allocates, so it needs no lock and no eviction, and stays bounded
// whatever topics the records hold.
var topicCache [256]atomic.Pointer[string]

// internTopic returns b as a string, shared with earlier calls for the same
// bytes when the cache still holds it.
func internTopic(b []byte) string {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	slot := &topicCache[mix64(h)%uint64(len(topicCache))]
	// The comparison converts b without allocating.
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
