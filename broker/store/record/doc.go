// Package record encodes and decodes one commit-log record: a producer batch
// with the header the broker adds. It knows nothing of segments, topics'
// queues or files; it turns bytes into a checked Header and back.
//
// Layout (all integers little-endian):
//
//		 0      4      8     12  13  14     16       20       24            32
//		 +------+------+------+---+---+------+--------+--------+-------------+
//		 |magic |crc32c|length|ver|att|topicL| queue  | count  | base offset |
//		 +------+------+------+---+---+------+--------+--------+-------------+
//		 32            40            48            56            64
//		 +-------------+-------------+-------------+-------------+
//		 | producer id | producer seq| first born  | last born   |
//		 +-------------+-------------+-------------+-------------+
//		 64            72            80            88       92
//		 +-------------+-------------+-------------+--------+
//		 | stored at   | deliver at  | tag bloom   | keys K |
//		 +-------------+-------------+-------------+--------+
//		 92
//		 +-----------+---------------------------+----------------------------+
//		 | topic (L) | K x (msg index u32,       | payload (length-92-L-12K)  |
//		 |           |      key hash u64)        | exactly as the producer    |
//		 |           |                           | sent it (lz4 when att&1)   |
//		 +-----------+---------------------------+----------------------------+
//
//	  - magic is "SLR1"; a reader that finds anything else is not at a record.
//	  - crc32c (Castagnoli) covers every byte after the crc field, from length
//	    to the end of the payload, so a torn write or a bit flip anywhere in the
//	    header, keys or payload is detected.
//	  - length is the whole record including the header, at most MaxSize; it is
//	    checked before anything is allocated.
//	  - att is a set of Attr flags: compression, transactional, delayed.
//	  - times are Unix milliseconds; stored at is set by the broker, deliver at
//	    is 0 unless the batch is delayed.
//	  - the tag bloom is a 64-bit Bloom filter of the batch's message tags
//	    (see TagBloom), copied into the consume queue so that tag filters skip
//	    batches without decompressing them.
//	  - the key section lets the broker index message keys without
//	    decompressing: message i of the batch has the key hash given.
package record
