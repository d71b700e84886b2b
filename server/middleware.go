package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"canopy/queries"
)

const (
	requestIDKey       = "request_id"
	clientRequestIDKey = "client_request_id"
)

// requestID gives the request an id of canopy's own, which the response's
// X-Request-Id, its problem document, the log and the audit log carry. An
// X-Request-Id the client sent (when it is a sane one) is kept beside it
// as the client's, never in its place: a client could otherwise pass its
// batch off as another request, say an earlier admin one.
func (s *Server) requestID(c *gin.Context) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Set(requestIDKey, id)
	if client := c.GetHeader("X-Request-Id"); saneRequestID(client) {
		c.Set(clientRequestIDKey, client)
	}
	c.Header("X-Request-Id", id)
	c.Next()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func requestIDOf(c *gin.Context) string { return c.GetString(requestIDKey) }

const statsKey = "query_stats"

// accounting counts the request's SQL statements and database time and
// reports them in a Server-Timing header on every response, and the pool that
// ran them in Canopy-Served-By. The headers are written as the response
// starts, so they cover every statement run before the first byte: all of a
// handler's, since handlers query before responding. It marks GET and HEAD
// requests read only: theirs are the only reads a replica may serve.
func (s *Server) accounting(c *gin.Context) {
	ctx, stats := queries.WithStats(c.Request.Context())
	if readOnly(c.Request) {
		ctx = queries.ReadOnly(ctx)
	}
	c.Request = c.Request.WithContext(ctx)
	c.Set(statsKey, stats)
	w := &timingWriter{ResponseWriter: c.Writer, stats: stats}
	c.Writer = w
	c.Next()
	if !w.Written() {
		w.stamp()
	}
}

func statsOf(c *gin.Context) *queries.Stats {
	st, _ := c.Get(statsKey)
	stats, _ := st.(*queries.Stats)
	return stats
}

// timingWriter adds the Server-Timing header just before the response starts.
type timingWriter struct {
	gin.ResponseWriter
	stats   *queries.Stats
	stamped bool
}

func (w *timingWriter) stamp() {
	if w.stamped {
		return
	}
	w.stamped = true
	ms := float64(w.stats.DBTime().Microseconds()) / 1000
	w.Header().Set("Server-Timing", fmt.Sprintf(`db;dur=%.3f;desc="%d queries"`, ms, w.stats.Statements()))
	if by := w.stats.ServedBy(); by != "" {
		w.Header().Set("Canopy-Served-By", by)
	}
}

func (w *timingWriter) WriteHeaderNow() {
	w.stamp()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *timingWriter) Write(b []byte) (int, error) {
	w.stamp()
	return w.ResponseWriter.Write(b)
}

func (w *timingWriter) WriteString(str string) (int, error) {
	w.stamp()
	return w.ResponseWriter.WriteString(str)
}

// Unwrap lets http.ResponseController reach the connection (the event
// streams set its deadlines).
func (w *timingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *timingWriter) Flush() {
	w.stamp()
	w.ResponseWriter.Flush()
}

// accessLog logs each request and feeds the request metrics.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	stats := statsOf(c)
	s.metrics.observe(route, c.Request.Method, status, elapsed, stats.Statements())
	s.metrics.served(stats.ServedBy())
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(c.Request.Context(), level, "request",
		slog.String("request_id", requestIDOf(c)),
		slog.String("client_request_id", c.GetString(clientRequestIDKey)),
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Float64("ms", float64(elapsed.Microseconds())/1000),
		slog.Int("queries", stats.Statements()),
		slog.Float64("db_ms", float64(stats.DBTime().Microseconds())/1000),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("remote", c.ClientIP()),
	)
}

// recovery turns a panicking handler into a logged 500 problem; the server
// goes on serving.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "handler panicked",
			slog.String("request_id", requestIDOf(c)),
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		writeProblem(c, problem{Status: http.StatusInternalServerError, Code: codeInternal,
			Detail: "the server could not complete the request"})
	}()
	c.Next()
}

// checkQuery refuses (400) a query string that does not parse (Go would
// drop the pair it cannot read, and a corrupted cursor would quietly be no
// cursor), a parameter given twice, and a path or any parameter name or
// value that is not UTF-8 or holds NUL, which PostgreSQL's text cannot
// take. It is the one place that checks them: handlers read parameters
// that passed.
func (s *Server) checkQuery(c *gin.Context) {
	if p := c.Request.URL.Path; !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		s.fail(c, badRequest("the path is not UTF-8 text without NUL"))
		return
	}
	values, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, badRequest("the query string does not parse: %v", err))
		return
	}
	for name, vs := range values {
		shown := strings.ToValidUTF8(name, "\uFFFD")
		if len(vs) > 1 {
			// Every parameter canopy reads has one value: which of two
			// was meant cannot be told.
			s.fail(c, badRequest("query parameter %q is given %d times; give it once", shown, len(vs)))
			return
		}
		for _, v := range append(vs, name) {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				s.fail(c, badRequest("query parameter %q is not UTF-8 text without NUL", shown))
				return
			}
		}
	}
	c.Next()
}

// timeout bounds the request's database work by the request timeout. A
// client that goes away cancels it too, through the request's context. It
// starts once readBody has the body: a slow upload is the read timeout's to
// cut off (408), not a database that did not answer (503).
func (s *Server) timeout(c *gin.Context) {
	if streams(c) {
		c.Next()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// streams reports whether the request is for an event stream, which lasts
// as long as its client stays.
func streams(c *gin.Context) bool {
	return strings.HasSuffix(c.FullPath(), "/stream") || strings.HasSuffix(c.FullPath(), "/events")
}

// readBody reads the request's body whole before the handler runs. A body
// over the limit is 413, at once when its declared length says so; one
// still arriving at the server's read timeout is 408 and one the client
// broke off 400: neither is the server's fault.
func (s *Server) readBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.BodyLimit {
		s.fail(c, &http.MaxBytesError{Limit: s.cfg.BodyLimit})
		return
	}
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.BodyLimit))
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		s.fail(c, err)
		return
	case errors.As(err, &netErr) && netErr.Timeout():
		s.fail(c, &apiError{status: http.StatusRequestTimeout, code: codeBadRequest,
			detail: "the request body did not arrive within the read timeout"})
		return
	case err != nil:
		s.fail(c, badRequest("the request body could not be read: %v", err))
		return
	}
	c.Request.Body = readBodyOf(data)
	c.Next()
}

// bodyRead is a request body readBody has read whole.
type bodyRead struct {
	*bytes.Reader
	data []byte
}

func readBodyOf(data []byte) bodyRead { return bodyRead{bytes.NewReader(data), data} }

func (bodyRead) Close() error { return nil }
