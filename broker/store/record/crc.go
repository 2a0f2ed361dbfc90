package record

import (
	"encoding/binary"
	"hash/crc32"
)

// PayloadCRC is the CRC32C of a payload alone. Computed before the append
// lock is taken (or checked on receipt by the server), it lets SealWithCRC
// seal a record without reading the payload again while holding the lock.
func PayloadCRC(payload []byte) uint32 { return crc32.Checksum(payload, castagnoli) }

// SealWithCRC is SealParts for a payload of payloadLen bytes whose
// PayloadCRC is payloadCRC: CRC(header || payload) is combined from the two
// CRCs in O(log n) instead of hashing the payload again.
func SealWithCRC(hdr []byte, payloadCRC uint32, payloadLen int) {
	c := combineCRC(crc32.Checksum(hdr[8:], castagnoli), payloadCRC, int64(payloadLen))
	binary.LittleEndian.PutUint32(hdr[4:8], c)
}

// castagnoliPoly is the reflected Castagnoli polynomial.
const castagnoliPoly = 0x82F63B78

// x2nTable[k] is x^(2^k) modulo the polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for n := 1; n < 32; n++ {
		p = multModP(p, p)
		t[n] = p
	}
	return t
}()

// multModP multiplies a and b modulo the polynomial (reflected bit order),
// as zlib's crc32_combine does.
func multModP(a, b uint32) uint32 {
	m := uint32(1) << 31
	var p uint32
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ castagnoliPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nModP returns x^(n * 2^k) modulo the polynomial.
func x2nModP(n int64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for n != 0 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
		n >>= 1
		k++
	}
	return p
}

// combineCRC returns the CRC of A||B from crc1 = CRC(A), crc2 = CRC(B) and
// len2 = len(B).
func combineCRC(crc1, crc2 uint32, len2 int64) uint32 {
	return multModP(x2nModP(len2, 3), crc1) ^ crc2
}
