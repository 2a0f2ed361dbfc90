package kafka

// maxTopicLen is the longest topic name Kafka accepts.
const maxTopicLen = 249

func topicChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// sanitizeTopic makes b, an expanded topic, a name Kafka accepts: other
// characters become '_', the name is cut at 249 bytes, and "." and ".."
// become "_" and "__".
func sanitizeTopic(b []byte) []byte {
	if len(b) > maxTopicLen {
		b = b[:maxTopicLen]
	}
	for i, c := range b {
		if !topicChar(c) {
			b[i] = '_'
		}
	}
	if s := string(b); s == "." || s == ".." {
		for i := range b {
			b[i] = '_'
		}
	}
	return b
}

// topicCache interns expanded topic names, so that a templated topic
// costs no allocation per event once its values have been seen.
type topicCache struct {
	names map[string]string
}

// maxCachedTopics bounds the cache; a template over a field with
// unbounded values (which would make unbounded topics anyway) only
// stops being cached.
const maxCachedTopics = 1024

func (c *topicCache) intern(b []byte) string {
	if s, ok := c.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if c.names == nil {
		c.names = make(map[string]string)
	}
	if len(c.names) >= maxCachedTopics {
		clear(c.names)
	}
	c.names[s] = s
	return s
}
