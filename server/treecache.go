package server

import (
	"sync"
)

// treeCache keeps rendered tree responses keyed by tree version, so that a
// repeated GET of an unchanged tree costs one version read and no CTE, and
// compresses nothing once its coding has been asked for. Entries of older
// versions are dropped as soon as a newer one is stored, and the bodies held
// take at most maxBytes in all their codings, counted by their capacity (what
// they keep allocated), not their length; the cache is only ever a copy of
// what the database says, so several canopy instances stay consistent.
type treeCache struct {
	mu       sync.Mutex
	entries  map[treeCacheKey]treeCacheEntry
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

// treeCacheEntry is a body and the bytes counted for it: the body may have
// grown by a coding that grew has not counted yet.
type treeCacheEntry struct {
	body    *encodedBody
	counted int
}

func newTreeCache(maxBytes int) *treeCache {
	return &treeCache{entries: map[treeCacheKey]treeCacheEntry{}, latest: map[string]int64{}, maxBytes: maxBytes}
}

func (c *treeCache) get(k treeCacheKey) (*encodedBody, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e.body, ok
}

func (c *treeCache) put(k treeCacheKey, body *encodedBody) {
	size := body.size()
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if latest, ok := c.latest[k.tree]; ok && k.version < latest {
		return // a slow reader of an old version must not evict the new one
	}
	if k.version > c.latest[k.tree] {
		c.latest[k.tree] = k.version
		for old := range c.entries {
			if old.tree == k.tree && old.version < k.version {
				c.drop(old)
			}
		}
	}
	c.drop(k)
	c.makeRoom(size)
	c.entries[k] = treeCacheEntry{body, size}
	c.bytes += size
}

// grew counts the bytes body, held under k, added when it was compressed in
// a new coding, evicting other entries to make room for them (or body
// itself, when it no longer fits at all).
func (c *treeCache) grew(k treeCacheKey, body *encodedBody, added int) {
	if added == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.body != body {
		return // dropped meanwhile: none of its bytes are counted
	}
	c.drop(k)
	if e.counted += added; e.counted > c.maxBytes {
		return
	}
	c.makeRoom(e.counted)
	c.entries[k] = e
	c.bytes += e.counted
}

// makeRoom evicts arbitrary entries until n more bytes fit.
func (c *treeCache) makeRoom(n int) {
	for old := range c.entries {
		if c.bytes+n <= c.maxBytes {
			return
		}
		c.drop(old)
	}
}

func (c *treeCache) drop(k treeCacheKey) {
	if e, ok := c.entries[k]; ok {
		delete(c.entries, k)
		c.bytes -= e.counted
	}
}
