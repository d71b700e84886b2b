package server

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
)

// encodedBody is one JSON answer in each coding asked for so far, for a
// cache to keep instead of plain bytes: made with the identity bytes, it
// compresses them (dense) the first time a request wants a coding, once
// however many ask at that moment, and keeps the result, so that a warm
// compressed read compresses nothing.
type encodedBody struct {
	identity []byte
	once     [codings]sync.Once
	encoded  [codings][]byte
	held     atomic.Int64 // bytes held by every form, counted by capacity
}

func newEncodedBody(identity []byte) *encodedBody {
	b := &encodedBody{identity: identity}
	b.held.Store(int64(cap(identity)))
	return b
}

// size is the memory the body holds in all its forms, counted by capacity.
func (b *encodedBody) size() int { return int(b.held.Load()) }

// in is the body in coding cd, which is the identity bytes for identity and
// for a body too small to compress, and the bytes this call added to what b
// holds (non-zero only for the call that compressed).
func (b *encodedBody) in(cp *compressor, cd coding) (body []byte, added int) {
	if cd = sentIn(cd, len(b.identity)); cd == identity {
		return b.identity, 0
	}
	b.once[cd].Do(func() {
		// A copy of exactly its length: the encoder's output has room to spare.
		b.encoded[cd] = bytes.Clone(cp.encode(nil, b.identity, cd, dense))
		added = cap(b.encoded[cd])
		b.held.Add(int64(added))
	})
	return b.encoded[cd], added
}

// writeEncoded answers with b in the request's coding, its Content-Length
// and Vary set, and returns the bytes it added to b (for the cache that
// holds b to count). A HEAD request compresses nothing: its answer names the
// coding and has no body, and no length unless the body is sent as it is.
func (s *Server) writeEncoded(c *gin.Context, status int, b *encodedBody) (added int) {
	if w, ok := c.Writer.(interface{ asIs() }); ok {
		w.asIs()
	}
	h := c.Writer.Header()
	addVary(h)
	cd := sentIn(codingOf(c), len(b.identity))
	if cd != identity {
		h.Set("Content-Encoding", cd.String())
		if c.Request.Method == http.MethodHead {
			h.Set("Content-Type", jsonContentType)
			c.Status(status)
			c.Writer.WriteHeaderNow()
			return 0
		}
	}
	body, added := b.in(s.compressor, cd)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Data(status, jsonContentType, body)
	return added
}
