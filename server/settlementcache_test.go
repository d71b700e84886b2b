package server

import (
	"testing"
	"time"
)

// The cache holds one version's bodies: a newer version's body drops the
// older ones, an older version's is refused (a slow computation must not
// evict newer numbers), and a body is counted by its capacity, so that
// maxBytes bounds what the cache keeps allocated.
func TestSettlementCache(t *testing.T) {
	type put struct {
		version int64
		month   time.Month
		cap     int
	}
	type held struct {
		version int64
		month   time.Month
	}
	cases := []struct {
		name  string
		puts  []put
		held  []held // bodies get must find
		count int    // bodies held in all
	}{
		{"two months of one version", []put{{1, 1, 10}, {1, 2, 10}}, []held{{1, 1}, {1, 2}}, 2},
		{"a newer version drops the older", []put{{1, 1, 10}, {1, 2, 10}, {2, 1, 10}}, []held{{2, 1}}, 1},
		{"an older version is refused", []put{{2, 1, 10}, {1, 2, 10}}, []held{{2, 1}}, 1},
		{"a body of large capacity is refused", []put{{1, 1, 101}}, nil, 0},
		{"a third body evicts one of the others", []put{{1, 1, 50}, {1, 2, 50}, {1, 3, 50}}, []held{{1, 3}}, 2},
		{"a month stored again replaces its body", []put{{1, 1, 50}, {1, 1, 50}, {1, 2, 50}}, []held{{1, 1}, {1, 2}}, 2},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := newSettlementCache(100)
			key := func(m time.Month) settlementKey { return settlementKey{year: 2024, month: m, zone: "UTC"} }
			for _, p := range tt.puts {
				c.put(p.version, key(p.month), make([]byte, 1, p.cap))
			}
			for _, h := range tt.held {
				if _, ok := c.get(h.version, key(h.month)); !ok {
					t.Errorf("month %d of version %d not held", h.month, h.version)
				}
			}
			if len(c.bodies) != tt.count {
				t.Errorf("%d bodies held, want %d", len(c.bodies), tt.count)
			}
			if c.bytes > c.maxBytes {
				t.Errorf("%d bytes counted, more than %d", c.bytes, c.maxBytes)
			}
			if _, ok := c.get(0, key(1)); ok {
				t.Error("version 0 found")
			}
		})
	}
}
