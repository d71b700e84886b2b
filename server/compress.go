package server

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
)

// coding is a content coding canopy answers in.
type coding uint8

const (
	identity coding = iota
	gzipCoding
	zstdCoding
	codings // how many there are
)

var codingNames = [codings]string{"identity", "gzip", "zstd"}

// String is the coding's name as Accept-Encoding and Content-Encoding spell it.
func (cd coding) String() string { return codingNames[cd] }

// minCompressSize is the smallest JSON body sent compressed: below it the
// coding's header and the work cost more than the bytes they save.
const minCompressSize = 1024

// sentIn is the coding a body of n bytes goes out in when the request
// negotiated cd: identity for a body under minCompressSize.
func sentIn(cd coding, n int) coding {
	if n < minCompressSize {
		return identity
	}
	return cd
}

// negotiate picks the coding of the answer from the request's Accept-Encoding
// values (RFC 9110 §12.5.3): the acceptable coding of the highest q-value,
// zstd before gzip before identity when they are equal. Names are read
// without regard to case; "*" stands for every coding not named; q=0 refuses
// a coding; an element whose q-value does not parse is ignored. With no
// Accept-Encoding, or when nothing canopy has is acceptable (identity;q=0
// alone), the answer is identity: a body the client may not want beats a 406
// it surely cannot use. identity not named is acceptable, but below any
// coding the client names.
func negotiate(values []string) coding {
	if len(values) == 0 {
		return identity
	}
	const unnamed = -1
	weights := [codings]float64{unnamed, unnamed, unnamed}
	star := float64(unnamed)
	for _, value := range values {
		for _, element := range strings.Split(value, ",") {
			name, params, _ := strings.Cut(element, ";")
			q, ok := qvalue(params)
			if !ok {
				continue
			}
			w := &star
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "zstd":
				w = &weights[zstdCoding]
			case "gzip", "x-gzip":
				w = &weights[gzipCoding]
			case "identity":
				w = &weights[identity]
			case "*":
			default:
				continue
			}
			*w = max(*w, q)
		}
	}
	for cd := range weights {
		switch {
		case weights[cd] != unnamed:
		case star != unnamed:
			weights[cd] = star
		case coding(cd) == identity:
			weights[cd] = 0.0001 // acceptable, below anything named
		default:
			weights[cd] = 0
		}
	}
	best := identity
	for _, cd := range []coding{gzipCoding, zstdCoding} {
		if weights[cd] > 0 && weights[cd] >= weights[best] {
			best = cd
		}
	}
	return best
}

// qvalue reads the q parameter among an Accept-Encoding element's
// parameters: 1 when there is none, false when it is not a number from 0 to 1.
func qvalue(params string) (float64, bool) {
	for _, p := range strings.Split(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		return q, err == nil && q >= 0 && q <= 1
	}
	return 1, true
}

// effort is how hard a body is compressed: fast for a body made for one
// answer, dense for one a cache keeps and sends again and again.
type effort uint8

const (
	fast effort = iota
	dense
	efforts
)

var effortNames = [efforts]string{"fast", "dense"}

// compressor compresses bodies with pooled encoders and counts each body it
// compresses (canopy_http_compressions_total, by coding and effort), which
// shows whether cached bodies are compressed once.
type compressor struct {
	zstd  [efforts]*zstd.Encoder // EncodeAll is safe for concurrent use and pools its own state
	gzip  [efforts]sync.Pool     // of *gzip.Writer
	count *prometheus.CounterVec
}

func newCompressor(reg prometheus.Registerer) *compressor {
	cp := &compressor{count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "canopy_http_compressions_total", Help: "Response bodies compressed, by coding and effort (fast: for one answer; dense: once, for a cache).",
	}, []string{"coding", "effort"})}
	reg.MustRegister(cp.count)
	zstdLevels := [efforts]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedBetterCompression}
	gzipLevels := [efforts]int{gzip.BestSpeed, 6}
	for e := range efforts {
		// The default window (8 MiB) is the largest RFC 9659 lets HTTP use.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevels[e]))
		if err != nil {
			panic("server: zstd encoder: " + err.Error()) // only for invalid options
		}
		cp.zstd[e] = enc
		level := gzipLevels[e]
		cp.gzip[e].New = func() any {
			w, _ := gzip.NewWriterLevel(nil, level) // the level is valid
			return w
		}
	}
	return cp
}

// encode appends src compressed in cd to dst. It cannot fail: its output is
// memory.
func (cp *compressor) encode(dst, src []byte, cd coding, e effort) []byte {
	cp.count.WithLabelValues(cd.String(), effortNames[e]).Inc()
	switch cd {
	case zstdCoding:
		return cp.zstd[e].EncodeAll(src, dst)
	case gzipCoding:
		buf := bytes.NewBuffer(dst)
		w := cp.gzip[e].Get().(*gzip.Writer)
		w.Reset(buf)
		_, _ = w.Write(src)
		_ = w.Close()
		cp.gzip[e].Put(w)
		return buf.Bytes()
	}
	return append(dst, src...)
}

const codingKey = "coding"

// codingOf is the coding the request's answer is to be sent in.
func codingOf(c *gin.Context) coding {
	cd, _ := c.Get(codingKey)
	v, _ := cd.(coding)
	return v
}

// addVary adds Accept-Encoding to the Vary header once: the answer depends
// on it, and a shared cache must not hand a compressed one to a client that
// did not ask for it.
func addVary(h http.Header) {
	for _, v := range h.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(name), "Accept-Encoding") {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// codingETag is the ETag of the representation in coding cd of the one
// whose identity ETag is etag: etag itself in identity, "tag-zstd" or
// "tag-gzip" for "tag" in those codings (whether or not the body turns out
// large enough to be compressed), so that an ETag names one sequence of
// bytes and If-None-Match works per coding.
func codingETag(etag string, cd coding) string {
	if cd == identity || !strings.HasSuffix(etag, `"`) {
		return etag
	}
	return strings.TrimSuffix(etag, `"`) + "-" + cd.String() + `"`
}

// etagPerCoding says that the ETag the handler sets (or has set) names the
// identity representation: compress sends the negotiated coding's instead
// (codingETag), and Vary. An ETag a handler sets without it (a web file's)
// goes out as it is.
func etagPerCoding(c *gin.Context) {
	addVary(c.Writer.Header())
	if w, ok := c.Writer.(interface{ tagPerCoding() }); ok {
		w.tagPerCoding()
	}
}

// compress negotiates the answer's coding and compresses (fast) every JSON
// answer (application/json, application/problem+json) of at least
// minCompressSize bytes: such answers are held until the handler returns,
// then sent with their true Content-Length. An answer already in its final
// coding (a cache's, see writeEncoded; one with a Content-Encoding) goes out
// as it is, as does anything else (event streams flush event by event, web
// files, metrics). A HEAD answer says which coding its GET would have, with
// no body and so no length. An answer whose ETag is per coding
// (etagPerCoding, which notModified calls) gets its coding's.
func (s *Server) compress(c *gin.Context) {
	cd := negotiate(c.Request.Header.Values("Accept-Encoding"))
	c.Set(codingKey, cd)
	w := &compressWriter{ResponseWriter: c.Writer, cp: s.compressor, coding: cd, head: c.Request.Method == http.MethodHead}
	c.Writer = w
	c.Next()
	w.finish()
}

type writerState uint8

const (
	undecided writerState = iota
	passing               // written through as the handler writes
	holding               // held until the handler returns
)

// compressWriter holds a JSON answer for compress.
type compressWriter struct {
	gin.ResponseWriter
	cp        *compressor
	coding    coding
	head      bool
	state     writerState
	body      []byte
	perCoding bool // the ETag set is the identity one, to be made the coding's
}

func (w *compressWriter) tagPerCoding() { w.perCoding = true }

// retag gives the answer the ETag of its coding, once, before its header
// goes out.
func (w *compressWriter) retag() {
	if !w.perCoding {
		return
	}
	w.perCoding = false
	h := w.Header()
	if etag := h.Get("ETag"); etag != "" {
		h.Set("ETag", codingETag(etag, w.coding))
	}
}

// decide chooses, at the answer's first byte (or header, or flush), whether
// to hold it.
func (w *compressWriter) decide() {
	if w.state != undecided {
		return
	}
	w.retag()
	w.state = passing
	h := w.Header()
	status := w.Status()
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || h.Get("Content-Encoding") != "" {
		return
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt != "application/json" && mt != "application/problem+json" {
		return
	}
	addVary(h)
	w.state = holding
}

func (w *compressWriter) Write(b []byte) (int, error) {
	if w.decide(); w.state == holding {
		w.body = append(w.body, b...)
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *compressWriter) WriteString(s string) (int, error) {
	if w.decide(); w.state == holding {
		w.body = append(w.body, s...)
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *compressWriter) WriteHeaderNow() {
	if w.decide(); w.state != holding {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *compressWriter) Flush() {
	if w.decide(); w.state != holding {
		w.ResponseWriter.Flush()
	}
}

// asIs sends the answer as the handler writes it: it is in its final coding.
func (w *compressWriter) asIs() {
	if w.state == undecided {
		w.retag()
		w.state = passing
	}
}

// Written counts a held answer as written, so that nothing writes a second
// answer after it (handle's retry, recovery).
func (w *compressWriter) Written() bool { return w.state == holding || w.ResponseWriter.Written() }

// Unwrap lets http.ResponseController reach the connection.
func (w *compressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish sends a held answer, compressed when it is large enough, and gives
// an answer with no body yet (a 304) the ETag of its coding.
func (w *compressWriter) finish() {
	w.retag()
	if w.state != holding {
		return
	}
	h := w.Header()
	body := w.body
	if cd := sentIn(w.coding, len(body)); cd != identity {
		h.Set("Content-Encoding", cd.String())
		if w.head {
			h.Del("Content-Length")
			w.ResponseWriter.WriteHeaderNow()
			return
		}
		body = w.cp.encode(make([]byte, 0, len(body)/4), body, cd, fast)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.ResponseWriter.Write(body) // a client gone away is not the server's error
}
