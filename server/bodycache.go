package server

import (
	"sync"
)

// bodyCache keeps rendered answers keyed by the version of the data they
// were rendered from, so that a repeated GET of unchanged data costs one
// version read and no computation, and compresses nothing once its coding
// has been asked for. Each key names a scope whose every write bumps its
// version (a tree, the settlements); storing a newer version of a scope
// drops the older ones, and an older version than the newest stored is
// refused (a slow reader must not evict newer answers). The bodies held take
// at most maxBytes in all their codings, counted by their capacity (what
// they keep allocated), not their length. The cache is only ever a copy of
// what the database says, so several canopy instances stay consistent.
type bodyCache[K versioned] struct {
	mu       sync.Mutex
	entries  map[K]cacheEntry
	latest   map[string]int64 // newest version stored, per scope
	bytes    int
	maxBytes int
}

// versioned is a bodyCache key: every parameter that changes an answer
// (parsed, not their text, so that depth=1 and depth=01 share an entry),
// and the scope and version of the data it is rendered from.
type versioned interface {
	comparable
	scope() (name string, version int64)
}

// treeCacheKey names one rendered tree.
type treeCacheKey struct {
	tree    string
	version int64
	root    int64 // -1: the whole forest
	depth   int   // -1: no limit
}

func (k treeCacheKey) scope() (string, int64) { return k.tree, k.version }

// cacheEntry is a body and the bytes counted for it: the body may have
// grown by a coding that grew has not counted yet.
type cacheEntry struct {
	body    *encodedBody
	counted int
}

func newBodyCache[K versioned](maxBytes int) *bodyCache[K] {
	return &bodyCache[K]{entries: map[K]cacheEntry{}, latest: map[string]int64{}, maxBytes: maxBytes}
}

func (c *bodyCache[K]) get(k K) (*encodedBody, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e.body, ok
}

func (c *bodyCache[K]) put(k K, body *encodedBody) {
	size := body.size()
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	scope, version := k.scope()
	if latest, ok := c.latest[scope]; ok && version < latest {
		return // a slow reader of an old version must not evict the new one
	}
	if version > c.latest[scope] {
		c.latest[scope] = version
		for old := range c.entries {
			if s, v := old.scope(); s == scope && v < version {
				c.drop(old)
			}
		}
	}
	c.drop(k)
	c.makeRoom(size)
	c.entries[k] = cacheEntry{body, size}
	c.bytes += size
}

// grew counts the bytes body, held under k, added when it was compressed in
// a new coding, evicting other entries to make room for them (or body
// itself, when it no longer fits at all).
func (c *bodyCache[K]) grew(k K, body *encodedBody, added int) {
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
func (c *bodyCache[K]) makeRoom(n int) {
	for old := range c.entries {
		if c.bytes+n <= c.maxBytes {
			return
		}
		c.drop(old)
	}
}

func (c *bodyCache[K]) drop(k K) {
	if e, ok := c.entries[k]; ok {
		delete(c.entries, k)
		c.bytes -= e.counted
	}
}
