// Command specproxy stands between an API client (make test's portman and
// newman run) and a live canopy, and checks every exchange against
// openapi.yaml: that the status is one the operation documents, that the
// response matches its documented schema and headers, that nothing is a 5xx,
// that a query string that does not parse or is not UTF-8 is 400, that a
// request the document accepts is not refused as malformed (400) or
// invalid (422, unless every refused field names a rule the operation lists in
// x-canopy-rules), and that a request the document refuses is not accepted
// (2xx). An event stream (text/event-stream), which never ends by itself, is
// read for -stream-for and then cut, the client getting what came by then as a
// complete answer; each complete event must be one the operation lists in
// x-canopy-events, with data of the schema listed beside it, and the stream
// must not end before the cut. A compressed answer (gzip or zstd) is judged
// as its client reads it, decompressed, and must say Vary: Accept-Encoding.
// It writes one JSON line per exchange to -log
// and prints a summary of the findings when it gets SIGTERM or SIGINT; it
// exits 1 if there were any.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/radix"
	"github.com/pb33f/libopenapi-validator/router"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

func main() {
	spec := flag.String("spec", "server/openapi.yaml", "the OpenAPI document to check against")
	upstream := flag.String("upstream", "", "canopy's base URL, such as http://127.0.0.1:8080")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; the chosen one is written to -addr-file")
	addrFile := flag.String("addr-file", "", "write the listening address here once listening")
	logPath := flag.String("log", "", "append one JSON line per exchange here")
	streamFor := flag.Duration("stream-for", time.Second, "how long an event stream is read before it is cut")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("specproxy: -upstream is required")
	}
	data, err := os.ReadFile(*spec)
	if err != nil {
		log.Fatal(err)
	}
	c, err := newChecker(data, *upstream, *streamFor)
	if err != nil {
		log.Fatal(err)
	}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		c.log = json.NewEncoder(f)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	if c.summary(os.Stdout) > 0 {
		os.Exit(1)
	}
}

// checker is the proxy: it forwards each request to upstream and judges the
// exchange.
type checker struct {
	v         validator.Validator
	schemas   schema_validation.SchemaValidator // checks an event's data
	model     *v3.Document
	routes    *config.ValidationOptions // the validator's way of finding a request's path
	upstream  string
	client    *http.Client
	streamFor time.Duration

	mu        sync.Mutex
	log       *json.Encoder
	exchanges int
	byOp      map[string]int
	findings  []finding
}

// finding is one exchange that the document and the server disagree on.
type finding struct {
	Kind     string `json:"kind"`
	Request  string `json:"request"`
	Body     string `json:"body,omitempty"`
	Status   int    `json:"status"`
	Response string `json:"response,omitempty"`
	Detail   string `json:"detail"`
}

func newChecker(spec []byte, upstream string, streamFor time.Duration) (*checker, error) {
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	routes := config.NewValidationOptions()
	routes.PathTree = radix.BuildPathTree(&model.Model)
	routes.Router = router.NewRouter(&model.Model, router.WithPathLookup(routes.PathTree), router.WithPathOnlyMatching())
	return &checker{v: v, schemas: schema_validation.NewSchemaValidator(), model: &model.Model, routes: routes,
		upstream: strings.TrimRight(upstream, "/"), streamFor: streamFor,
		client: &http.Client{Timeout: 2 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		byOp:   map[string]int{}}, nil
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, r.Method, c.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := c.client.Do(out)
	if err != nil {
		c.record(r, body, 0, nil, "proxy", "upstream: "+err.Error())
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	respBody, ended := c.read(resp, cancel)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
	if ended {
		c.record(r, body, resp.StatusCode, respBody, "stream", "the event stream ended by itself before it was cut after "+c.streamFor.String())
		return
	}
	plainResp, plain, err := decoded(resp, respBody)
	if err != nil {
		c.record(r, body, resp.StatusCode, respBody, "encoding", err.Error())
		return
	}
	c.judge(r, body, plainResp, plain)
}

// read reads an answer's body. An event stream never ends by itself: it is
// read for c.streamFor, then cut by cancelling the upstream request; ended
// says it ended before that.
func (c *checker) read(resp *http.Response, cut context.CancelFunc) (body []byte, ended bool) {
	defer resp.Body.Close()
	if !isEventStream(resp.Header) {
		body, _ = io.ReadAll(resp.Body)
		return body, false
	}
	timer := time.AfterFunc(c.streamFor, cut)
	body, err := io.ReadAll(resp.Body)
	return body, timer.Stop() && err == nil
}

// judge checks one exchange and records it.
func (c *checker) judge(r *http.Request, body []byte, resp *http.Response, respBody []byte) {
	req := func() *http.Request {
		q := r.Clone(context.Background())
		q.URL.Scheme, q.URL.Host, q.RequestURI = "", "", ""
		q.Body = io.NopCloser(bytes.NewReader(body))
		return q
	}
	status := resp.StatusCode
	pathItem, errs, pathValue := paths.FindPath(req(), c.model, c.routes)
	if len(errs) > 0 {
		pathItem = nil
	}
	var op *v3.Operation
	if pathItem != nil {
		op = pathItem.GetOperations().GetOrZero(strings.ToLower(r.Method))
	} else {
		// FindPath finds no path for a method the path lacks: look the path up
		// with the methods the document uses, to tell 405 from 404.
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			q := req()
			q.Method = m
			if item, errs, value := paths.FindPath(q, c.model, c.routes); item != nil && len(errs) == 0 {
				pathItem, pathValue = item, value
				break
			}
		}
	}
	opName := r.Method + " " + pathValue
	_, queryErr := url.ParseQuery(r.URL.RawQuery)
	query := unescaped(r.URL.RawQuery)
	badText := !utf8.ValidString(query) || strings.ContainsRune(query, 0)
	switch {
	case status >= 500:
		c.record(r, body, status, respBody, "5xx", "the server failed")
		return
	case queryErr != nil && status != http.StatusBadRequest:
		c.record(r, body, status, respBody, "query", "a query string that does not parse is 400: "+queryErr.Error())
		return
	case badText && status != http.StatusBadRequest:
		c.record(r, body, status, respBody, "query", "a query parameter that is not UTF-8 or holds NUL is 400")
		return
	case queryErr != nil || badText:
		// Refused as it should be: the document cannot say "UTF-8".
		c.record(r, body, status, respBody, "", opName)
		return
	case pathItem == nil:
		if status != http.StatusNotFound {
			c.record(r, body, status, respBody, "undocumented", "no path of the document matches, yet the answer is not 404")
			return
		}
		c.record(r, body, status, respBody, "", "")
		return
	case op == nil:
		if status != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			c.record(r, body, status, respBody, "undocumented", "the path does not document this method, yet the answer is not 405 with Allow")
			return
		}
		c.record(r, body, status, respBody, "", opName)
		return
	}
	rs := &http.Response{StatusCode: status, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(respBody)), Request: req()}
	if ok, errs := c.v.ValidateHttpResponse(req(), rs); !ok {
		c.record(r, body, status, respBody, "response", describe(errs))
		return
	}
	if isEventStream(resp.Header) {
		if detail := c.checkEvents(op, respBody); detail != "" {
			c.record(r, body, status, respBody, "event", detail)
			return
		}
	}
	reqOK, reqErrs := c.v.ValidateHttpRequest(req())
	switch {
	case reqOK && status == http.StatusBadRequest:
		c.record(r, body, status, respBody, "spec-accepts", "the document accepts this request; the server calls it malformed")
		return
	case reqOK && status == http.StatusUnprocessableEntity:
		if fields := unruled(op, respBody); len(fields) > 0 {
			c.record(r, body, status, respBody, "spec-accepts",
				"the document accepts this request; the server refuses "+strings.Join(fields, ", ")+" by a rule x-canopy-rules does not name")
			return
		}
	case !reqOK && status < 300:
		c.record(r, body, status, respBody, "spec-refuses", "the server accepts a request the document refuses: "+describe(reqErrs))
		return
	}
	c.record(r, body, status, respBody, "", opName)
}

// unescaped is the query string with its escapes decoded, as far as they parse.
func unescaped(raw string) string {
	if s, err := url.QueryUnescape(raw); err == nil {
		return s
	}
	return ""
}

// unruled is the fields of a 422 problem that the operation's x-canopy-rules
// do not name.
func unruled(op *v3.Operation, respBody []byte) []string {
	rules := extension(op, "x-canopy-rules")
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(respBody, &p)
	if len(p.Errors) == 0 {
		p.Errors = append(p.Errors, struct {
			Field string `json:"field"`
		}{"(none named)"})
	}
	var out []string
	for _, e := range p.Errors {
		if _, ok := rules[e.Field]; !ok {
			out = append(out, e.Field)
		}
	}
	return out
}

// extension is an operation's extension that maps names to text, such as
// x-canopy-rules; empty when the operation has none.
func extension(op *v3.Operation, name string) map[string]string {
	m := map[string]string{}
	if op.Extensions != nil {
		if n, ok := op.Extensions.Get(name); ok && n != nil {
			_ = n.Decode(&m)
		}
	}
	return m
}

func describe[E interface{ Error() string }](errs []E) string {
	var parts []string
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	sort.Strings(parts)
	return clip(strings.Join(parts, "; "), 600)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// record counts an exchange, and keeps it as a finding when kind is set.
func (c *checker) record(r *http.Request, body []byte, status int, respBody []byte, kind, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exchanges++
	line := map[string]any{"method": r.Method, "uri": r.URL.RequestURI(), "status": status}
	if kind == "" {
		c.byOp[detail]++
		line["operation"] = detail
	} else {
		f := finding{Kind: kind, Request: r.Method + " " + r.URL.RequestURI(), Body: clip(string(body), 400),
			Status: status, Response: clip(string(respBody), 400), Detail: detail}
		c.findings = append(c.findings, f)
		line["finding"] = f
	}
	if c.log != nil {
		_ = c.log.Encode(line)
	}
}

// summary prints the counts and every finding; it returns how many there were.
func (c *checker) summary(w io.Writer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "specproxy: %d exchanges over %d operations, %d findings\n", c.exchanges, len(c.byOp), len(c.findings))
	for _, f := range c.findings {
		fmt.Fprintf(w, "  [%s] %s → %d: %s\n", f.Kind, f.Request, f.Status, f.Detail)
		if f.Body != "" {
			fmt.Fprintf(w, "      body: %s\n", f.Body)
		}
		if f.Response != "" {
			fmt.Fprintf(w, "      answer: %s\n", f.Response)
		}
	}
	return len(c.findings)
}
