package server

import "testing"

// A body is counted by the memory it holds, its capacity, so that maxBytes
// bounds what the cache keeps allocated.
func TestTreeCacheCountsCapacity(t *testing.T) {
	cases := []struct {
		name string
		caps []int // of one-byte bodies, put in order under roots 1, 2, ...
		held int
	}{
		{"a short body of large capacity is refused", []int{101}, 0},
		{"two fit", []int{50, 50}, 2},
		{"a third evicts one", []int{50, 50, 50}, 2},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := newTreeCache(100)
			key := func(i int) treeCacheKey {
				return treeCacheKey{tree: "categories", version: 1, root: int64(i + 1), depth: -1}
			}
			for i, n := range tt.caps {
				c.put(key(i), newEncodedBody(make([]byte, 1, n)))
			}
			held := 0
			for i := range tt.caps {
				if _, ok := c.get(key(i)); ok {
					held++
				}
			}
			if _, ok := c.get(key(len(tt.caps) - 1)); held != tt.held || tt.held > 0 && !ok {
				t.Errorf("%d bodies held (the last one: %v), want %d with the last", held, ok, tt.held)
			}
			if c.bytes > c.maxBytes {
				t.Errorf("%d bytes counted, more than %d", c.bytes, c.maxBytes)
			}
		})
	}
}
