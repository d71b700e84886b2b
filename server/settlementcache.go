package server

import (
	"sync"
	"time"
)

// settlementCache keeps rendered settlements of the current settlement
// version, so that a month read again before anything it depends on changes
// costs one version read and no computation. Storing a newer version drops
// every body of the older one, and a body of an older version than the one
// held is not stored (a slow computation must not evict newer numbers).
// Bodies take at most maxBytes, counted by their capacity; past it an
// arbitrary body makes room.
type settlementCache struct {
	mu       sync.Mutex
	version  int64
	bodies   map[settlementKey][]byte
	bytes    int
	maxBytes int
}

// settlementKey is every parameter that changes a settlement's body. The
// zone is its name, not its offsets: the body says which name was asked for.
type settlementKey struct {
	year  int
	month time.Month
	zone  string
}

func newSettlementCache(maxBytes int) *settlementCache {
	return &settlementCache{bodies: map[settlementKey][]byte{}, maxBytes: maxBytes}
}

// get is the body of k rendered at version, if held.
func (c *settlementCache) get(version int64, k settlementKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return nil, false
	}
	b, ok := c.bodies[k]
	return b, ok
}

// put keeps body as k's at version.
func (c *settlementCache) put(version int64, k settlementKey, body []byte) {
	if cap(body) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case version < c.version:
		return
	case version > c.version:
		c.version, c.bodies, c.bytes = version, map[settlementKey][]byte{}, 0
	}
	if prev, ok := c.bodies[k]; ok {
		delete(c.bodies, k)
		c.bytes -= cap(prev)
	}
	for old, b := range c.bodies {
		if c.bytes+cap(body) <= c.maxBytes {
			break
		}
		delete(c.bodies, old)
		c.bytes -= cap(b)
	}
	c.bodies[k] = body
	c.bytes += cap(body)
}
