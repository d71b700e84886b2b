package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"canopy/auth"
	"canopy/queries"
)

// Problem codes, as in the API contract.
const (
	codeBadRequest   = "bad_request"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeCycle        = "cycle"
	codeHasChildren  = "has_children"
	codeValidation   = "validation"
	codeTooLarge     = "too_large"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code"`
	Errors    []problemField `json:"errors,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

type problemField struct {
	Index   *int   `json:"index,omitempty"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiError is an error the request itself caused, with the status and code
// to answer it with.
type apiError struct {
	status int
	code   string
	detail string
}

func (e *apiError) Error() string { return e.detail }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, detail: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, detail: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &apiError{status: http.StatusForbidden, code: codeForbidden, detail: fmt.Sprintf(format, args...)}
}

// tooLarge is a batch over its row limit (a body over the byte limit is an
// *http.MaxBytesError).
func tooLarge(format string, args ...any) error {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, detail: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) error {
	return &queries.ValidationError{Errors: []queries.FieldError{{Index: -1, Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// handle adapts a handler that returns an error to gin; the error becomes the
// response through fail.
//
// A read (GET, HEAD) that met a dead pooled connection before it wrote
// anything runs once more on a fresh one: when PostgreSQL restarts, every
// idle connection the pool holds is dead, and the first request to find
// one should not be the one to pay. The pool's idle connections are
// dropped first, since they died together. A write is never run again: it
// may have committed before the connection went, so it is a 503.
func (s *Server) handle(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		err := h(c)
		if err != nil && errors.Is(err, queries.ErrConnectionLost) && readOnly(c.Request) && !c.Writer.Written() {
			s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "read retried on a fresh connection",
				slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
			s.db.Reset()
			err = h(c)
		}
		if err == nil && len(c.Errors) > 0 && !c.Writer.Written() {
			// The response did not encode (gin's render left it unsent,
			// which would go out as an empty 200).
			err = fmt.Errorf("response not sent: %w", c.Errors.Last().Err)
		}
		if err != nil {
			s.fail(c, err)
		}
	}
}

// readOnly reports whether r only reads: its statements may run again.
func readOnly(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// fail answers err as a problem document. It is the one place where an error
// becomes an HTTP status: anything it does not recognise is logged and
// answered with a 500 that says nothing of its cause.
func (s *Server) fail(c *gin.Context, err error) {
	p := problem{Status: http.StatusInternalServerError, Code: codeInternal, Detail: "the server could not complete the request"}
	var apiErr *apiError
	var validation *queries.ValidationError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &apiErr):
		p.Status, p.Code, p.Detail = apiErr.status, apiErr.code, apiErr.detail
	case errors.As(err, &validation):
		p.Status, p.Code, p.Detail = http.StatusUnprocessableEntity, codeValidation, validation.Error()
		p.Errors = make([]problemField, len(validation.Errors))
		for i, f := range validation.Errors {
			p.Errors[i] = problemField{Field: f.Field, Message: f.Message}
			if f.Index >= 0 {
				p.Errors[i].Index = &f.Index
			}
		}
	case errors.As(err, &tooLarge):
		p.Status, p.Code = http.StatusRequestEntityTooLarge, codeTooLarge
		p.Detail = fmt.Sprintf("the request body is larger than the limit of %d bytes", tooLarge.Limit)
	case errors.Is(err, auth.ErrInvalidToken):
		p.Status, p.Code, p.Detail = http.StatusUnauthorized, codeUnauthorized, "the bearer token is malformed, unknown or revoked"
		c.Header("WWW-Authenticate", `Bearer realm="canopy", error="invalid_token"`)
	case errors.Is(err, queries.ErrNotFound):
		p.Status, p.Code, p.Detail = http.StatusNotFound, codeNotFound, "no such resource"
	case errors.Is(err, queries.ErrCycle):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeCycle, "a node cannot move under itself or one of its descendants"
	case errors.Is(err, queries.ErrHasChildren):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeHasChildren, "the node has children (or wards); delete them first or use ?cascade=true"
	case errors.Is(err, queries.ErrConflict):
		p.Status, p.Code, p.Detail = http.StatusConflict, codeConflict, "the write clashes with an existing resource"
	case errors.Is(err, queries.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, codeUnavailable, "the database is unreachable or did not answer in time; try again shortly"
		c.Header("Retry-After", "1")
	}
	if p.Status == http.StatusInternalServerError {
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
	} else if p.Status == http.StatusServiceUnavailable {
		s.log.LogAttrs(c.Request.Context(), slog.LevelWarn, "database unavailable",
			slog.String("request_id", requestIDOf(c)), slog.String("error", err.Error()))
	}
	writeProblem(c, p)
}

func writeProblem(c *gin.Context, p problem) {
	p.Type = "urn:canopy:problem:" + p.Code
	p.Title = http.StatusText(p.Status)
	p.RequestID = requestIDOf(c)
	c.Abort()
	c.Render(p.Status, problemJSON{p})
}

// problemJSON renders a problem with the application/problem+json media type.
type problemJSON struct{ p problem }

func (r problemJSON) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return jsonEncode(w, r.p)
}

func (r problemJSON) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
}
