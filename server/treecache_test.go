package server

import (
	"crypto/rand"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

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

// Each coding a body is compressed in counts towards maxBytes: the growth
// evicts other entries, or the body itself when it no longer fits.
func TestTreeCacheCountsCodings(t *testing.T) {
	cp := newCompressor(prometheus.NewRegistry())
	incompressible := func() []byte {
		b := make([]byte, 1500)
		_, _ = rand.Read(b)
		return b[:1500:1500]
	}
	cases := []struct {
		name     string
		maxBytes int      // two bodies of 1,500 bytes, each coding of them as many again
		codings  []coding // compressed in, for the first body
		held     []bool   // first body, second body
	}{
		{"identity alone adds nothing", 3100, []coding{identity}, []bool{true, true}},
		{"a coding evicts the other body", 3500, []coding{zstdCoding}, []bool{true, false}},
		{"a coding past the bound evicts the body itself", 3000, []coding{gzipCoding}, []bool{false, true}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := newTreeCache(tt.maxBytes)
			keys := []treeCacheKey{{"categories", 1, 1, -1}, {"categories", 1, 2, -1}}
			bodies := []*encodedBody{newEncodedBody(incompressible()), newEncodedBody(incompressible())}
			for i := range keys {
				c.put(keys[i], bodies[i])
			}
			for _, cd := range tt.codings {
				_, added := bodies[0].in(cp, cd)
				c.grew(keys[0], bodies[0], added)
			}
			counted := 0
			for i, k := range keys {
				got, ok := c.get(k)
				if ok != tt.held[i] || ok && got != bodies[i] {
					t.Errorf("body %d held: %v, want %v", i, ok, tt.held[i])
				}
				if ok {
					counted += got.size()
				}
			}
			if c.bytes != counted || c.bytes > c.maxBytes {
				t.Errorf("%d bytes counted for %d held, bound %d", c.bytes, counted, c.maxBytes)
			}
		})
	}
}
