package server

import (
	"sync"
)

// treeCache keeps rendered tree responses keyed by tree version, so that a
// repeated GET of an unchanged tree costs one version read and no CTE.
// Entries of older versions are dropped as soon as a newer one is stored, and
// the bodies held take at most maxBytes, counted by their capacity (what
// they keep allocated), not their length; the cache is only ever a copy of
// what the database says, so several canopy instances stay consistent.
type treeCache struct {
	mu       sync.Mutex
	entries  map[treeCacheKey][]byte
	latest   map[string]int64 // newest version stored, per tree
	bytes    int
	maxBytes int
}

// treeCacheKey names one rendered answer. It holds the parsed parameters,
// not their text, so that depth=1, depth=01 and depth=+1 share an entry.
type treeCacheKey struct {
	tree    string
	version int64
	root    int64 // -1: the whole forest
	depth   int   // -1: no limit
}

func newTreeCache(maxBytes int) *treeCache {
	return &treeCache{entries: map[treeCacheKey][]byte{}, latest: map[string]int64{}, maxBytes: maxBytes}
}

func (c *treeCache) get(k treeCacheKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[k]
	return b, ok
}

func (c *treeCache) put(k treeCacheKey, body []byte) {
	if cap(body) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if latest, ok := c.latest[k.tree]; ok && k.version < latest {
		return // a slow reader of an old version must not evict the new one
	}
	if k.version > c.latest[k.tree] {
		c.latest[k.tree] = k.version
		for old, b := range c.entries {
			if old.tree == k.tree && old.version < k.version {
				delete(c.entries, old)
				c.bytes -= cap(b)
			}
		}
	}
	for c.bytes+cap(body) > c.maxBytes && len(c.entries) > 0 {
		for old, b := range c.entries { // evict an arbitrary entry
			delete(c.entries, old)
			c.bytes -= cap(b)
			break
		}
	}
	if prev, ok := c.entries[k]; ok {
		c.bytes -= cap(prev)
	}
	c.entries[k] = body
	c.bytes += cap(body)
}
