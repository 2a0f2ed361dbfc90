package event

import "unsafe"

// Boxer puts strings and float64s into `any` values without an
// allocation per value. Go boxes such a value by allocating a copy of it
// (16 bytes for a string header, 8 for a float64) and pointing the
// interface at the copy; a decoder filling Fields with a dozen values per
// event spends most of its allocations, and much of the collector's GC
// work, there. A Boxer copies the values into slabs of boxChunk instead
// and points the interfaces into them: one allocation per boxChunk
// values.
//
// That is sound because a slab is only appended to: a value, once boxed,
// is never written again, so the interfaces holding it see an immutable
// value exactly as with Go's own boxing, and the slab stays alive as
// long as any interface points into it (the GC follows interior
// pointers). A full slab is left to its interfaces and a new one made.
//
// A Boxer is used by one goroutine at a time; its zero value is ready.
type Boxer struct {
	strs []string
	nums []float64
}

// boxChunk is the number of values per slab: large enough to make the
// allocation rare, small enough that one long-lived value does not pin
// much memory.
const boxChunk = 128

// eface is the layout of an `any`: its dynamic type and a pointer to its
// value (for types that are not pointers themselves).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

var (
	stringType = typeOf("")
	floatType  = typeOf(0.0)
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func pack(typ, data unsafe.Pointer) (v any) {
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: typ, data: data}
	return v
}

// String returns s as an `any`.
func (b *Boxer) String(s string) any {
	if s == "" {
		return "" // Go boxes the empty string without allocating
	}
	if len(b.strs) == cap(b.strs) {
		b.strs = make([]string, 0, boxChunk)
	}
	b.strs = append(b.strs, s)
	return pack(stringType, unsafe.Pointer(&b.strs[len(b.strs)-1]))
}

// Float returns f as an `any`.
func (b *Boxer) Float(f float64) any {
	if len(b.nums) == cap(b.nums) {
		b.nums = make([]float64, 0, boxChunk)
	}
	b.nums = append(b.nums, f)
	return pack(floatType, unsafe.Pointer(&b.nums[len(b.nums)-1]))
}
