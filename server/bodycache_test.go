package server

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A body is counted by the memory it holds, its capacity, so that maxBytes
// bounds what the cache keeps allocated.
func TestBodyCacheCountsCapacity(t *testing.T) {
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
			c := newBodyCache[treeCacheKey](100)
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
func TestBodyCacheCountsCodings(t *testing.T) {
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
			c := newBodyCache[treeCacheKey](tt.maxBytes)
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

// The cache holds one version of each scope: a newer version's body drops
// the older ones of its scope alone, and an older version's is refused (a
// slow computation must not evict newer answers).
func TestBodyCacheVersions(t *testing.T) {
	type put struct {
		scope   string // "t": a tree; "s": the settlements
		version int64
		month   time.Month
	}
	cases := []struct {
		name string
		puts []put
		held []put // bodies get must find
	}{
		{"two months of one version", []put{{"s", 1, 1}, {"s", 1, 2}}, []put{{"s", 1, 1}, {"s", 1, 2}}},
		{"a newer version drops the older", []put{{"s", 1, 1}, {"s", 1, 2}, {"s", 2, 1}}, []put{{"s", 2, 1}}},
		{"an older version is refused", []put{{"s", 2, 1}, {"s", 1, 2}}, []put{{"s", 2, 1}}},
		{"another scope's versions are its own", []put{{"t", 1, 1}, {"s", 5, 1}, {"t", 2, 2}}, []put{{"s", 5, 1}, {"t", 2, 2}}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := newBodyCache[scoped](100)
			key := func(p put) scoped {
				return scoped{p.scope, settlementKey{version: p.version, year: 2024, month: p.month}}
			}
			for _, p := range tt.puts {
				c.put(key(p), newEncodedBody([]byte("{}")))
			}
			for _, h := range tt.held {
				if _, ok := c.get(key(h)); !ok {
					t.Errorf("%+v not held", h)
				}
			}
			if len(c.entries) != len(tt.held) {
				t.Errorf("%d bodies held, want %d", len(c.entries), len(tt.held))
			}
		})
	}
}

// scoped is a settlement key in a scope of its own name.
type scoped struct {
	name string
	settlementKey
}

func (k scoped) scope() (string, int64) { return k.name, k.version }
