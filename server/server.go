// Package server is canopy's HTTP face: the gin router, its middleware (auth,
// limits, query accounting) and one file of handlers per resource. It holds
// no SQL: handlers parse, validate, call package queries and respond.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/auth"
	"canopy/queries"
	"canopy/web"
)

// Config is the HTTP side of canopy's configuration.
type Config struct {
	// BodyLimit is the largest request body accepted, in bytes (413 beyond).
	BodyLimit int64
	// RequestTimeout bounds each request's database work; past it the request
	// is answered 503.
	RequestTimeout time.Duration
	// PublicReads lets tree reads through without a token.
	PublicReads bool
	// TokenCacheTTL is how long a checked token is remembered: the longest a
	// revoked token keeps working.
	TokenCacheTTL time.Duration
	// ShutdownTimeout is how long in-flight requests get to finish on shutdown.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout is how long a client has to send a request's headers,
	// and ReadTimeout to send the whole request, body included: a slow client
	// (slowloris) is cut off there instead of holding a connection.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// CORSOrigins are the browser origins (https://app.example) allowed to
	// call the API from their pages, or "*" for any; none by default.
	CORSOrigins []string
	// PrivateMetrics leaves /metrics off the API's routes, for a caller
	// that serves MetricsHandler on a listener of its own (canopy serve
	// --metrics-addr), out of the public's reach.
	PrivateMetrics bool
	// Replicas, when set, serve the reads of GET and HEAD requests from a
	// replica within its lag bound (see queries.Replicas); its checker is
	// the caller's to run. Nil reads from the primary pool alone.
	Replicas *queries.Replicas
	// ListenURL is where the one listening connection of the event streams
	// connects: straight to PostgreSQL, since LISTEN needs a session that a
	// pooler in transaction mode does not give. Empty turns the streams off
	// (503).
	ListenURL string
	// EventRetention is how long alarm events are kept for a client that
	// reconnects to replay; one asking for older ones is told to reset.
	EventRetention time.Duration
	// StreamKeepAlive is how often an idle stream gets a comment line, so
	// that proxies do not close it.
	StreamKeepAlive time.Duration
	// StreamBuffer is how many events a stream's client may fall behind by
	// before it is cut off (it replays them when it reconnects).
	StreamBuffer int
}

// DefaultConfig is the configuration canopy runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		BodyLimit:       16 << 20,
		RequestTimeout:  10 * time.Second,
		PublicReads:     true,
		TokenCacheTTL:   5 * time.Second,
		ShutdownTimeout: 15 * time.Second,
		// A batch body of 16 MiB arrives in a minute at about 2 Mbit/s.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		EventRetention:    24 * time.Hour,
		StreamKeepAlive:   15 * time.Second,
		StreamBuffer:      1024,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.BodyLimit < 1024:
		return fmt.Errorf("body limit %d bytes is below 1 KiB", c.BodyLimit)
	case c.RequestTimeout <= 0:
		return errors.New("request timeout must be positive")
	case c.TokenCacheTTL < 0:
		return errors.New("token cache TTL cannot be negative")
	case c.ShutdownTimeout <= 0:
		return errors.New("shutdown timeout must be positive")
	case c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0:
		return errors.New("read header and read timeouts must be positive")
	case c.ReadTimeout < c.ReadHeaderTimeout:
		return errors.New("the read timeout covers the headers too: it cannot be shorter than the read header timeout")
	case c.EventRetention < time.Minute:
		return errors.New("event retention must be at least a minute")
	case c.StreamKeepAlive <= 0:
		return errors.New("stream keep-alive must be positive")
	case c.StreamBuffer < 1:
		return errors.New("stream buffer must hold at least one event")
	}
	for _, o := range c.CORSOrigins {
		if !validOrigin(o) {
			return fmt.Errorf("CORS origin %q: want * or a scheme and host such as https://app.example", o)
		}
	}
	return nil
}

// treeCacheBytes bounds the memory kept for rendered trees.
const treeCacheBytes = 64 << 20

// settlementCacheBytes bounds the memory kept for rendered settlements: a
// month of 500 teachers is about 100 KB, so some hundred months and zones.
const settlementCacheBytes = 16 << 20

// Server serves canopy's HTTP API.
type Server struct {
	cfg     Config
	db      *queries.DB
	store   *queries.Store
	tokens  *auth.Verifier
	log     *slog.Logger
	metrics *metrics
	trees   *bodyCache[treeCacheKey]
	// settlements holds rendered settlements of the current version.
	settlements *bodyCache[settlementKey]
	engine      *gin.Engine
	table       *routeTable
	live        *hub
	// schemaVersion is the migration version this binary expects.
	schemaVersion uint

	// compressor compresses JSON answers (compress, writeEncoded).
	compressor *compressor
}

// New builds the server on a pool opened with queries.Open, expecting the
// database at migration version schemaVersion.
func New(cfg Config, db *queries.DB, schemaVersion uint, log *slog.Logger) *Server {
	// Tokens are checked on the primary, so that a new token works and a
	// revoked one stops at once whatever a replica's lag.
	primary := db.Store
	store := primary
	if cfg.Replicas != nil {
		store = queries.New(cfg.Replicas)
	}
	s := &Server{
		cfg:           cfg,
		db:            db,
		store:         store,
		tokens:        auth.NewVerifier(primary, cfg.TokenCacheTTL),
		log:           log,
		metrics:       newMetrics(db, cfg.Replicas),
		trees:         newBodyCache[treeCacheKey](treeCacheBytes),
		settlements:   newBodyCache[settlementKey](settlementCacheBytes),
		schemaVersion: schemaVersion,
		live:          newHub(primary, queries.NewListener(cfg.ListenURL, log), cfg.StreamBuffer, log),
	}
	s.metrics.registerStreams(s.live)
	s.compressor = newCompressor(s.metrics.reg)
	s.engine = s.routes()
	return s
}

// MetricsHandler serves the Prometheus metrics at /metrics, for a listener
// apart from the API's (see Config.PrivateMetrics).
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// readMethods are the methods of the read routes: every GET also answers
// HEAD (a load balancer's probe of /healthz, a client checking an ETag),
// with the same status and headers and no body, which net/http drops.
var readMethods = []string{http.MethodGet, http.MethodHead}

// routes registers every route; it is the one place to read what canopy serves.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// 405s are the allow middleware's, with a true Allow header: gin's
	// own would send some of them to a parameter route.
	e.HandleMethodNotAllowed = false
	e.RedirectTrailingSlash = false
	// Route on the path as sent, so that an escaped slash stays inside its
	// segment: a patient uid may hold "/" (GET /patients/a%2Fb).
	e.UseRawPath = true
	e.RedirectFixedPath = false
	_ = e.SetTrustedProxies(nil)
	e.NoRoute(s.handle(func(c *gin.Context) error {
		return notFound("no route for %s %s", c.Request.Method, c.Request.URL.Path)
	}))
	e.Use(s.requestID, s.accounting, s.accessLog, s.compress, s.recovery, s.cors, s.allow, s.checkQuery, s.readBody, s.timeout)

	e.Match(readMethods, "/healthz", s.healthz)
	e.Match(readMethods, "/readyz", s.handle(s.readyz))
	if !s.cfg.PrivateMetrics {
		e.Match(readMethods, "/metrics", gin.WrapH(s.metrics.handler()))
	}
	e.Match(readMethods, "/openapi.yaml", serveOpenAPI)

	// The web front end: index.html and its assets, with the security headers.
	ui := newWebUI(web.Files)
	e.Match(readMethods, "/", ui.headers, ui.index)
	e.Match(readMethods, "/assets/*filepath", ui.headers, s.handle(ui.asset))

	v1 := e.Group("/api/v1")
	for _, t := range []trees{{s, queries.Categories, "categories"}, {s, queries.Departments, "departments"}} {
		g := v1.Group("/" + t.name)
		g.Match(readMethods, "/tree", s.readTrees, s.handle(t.getTree))
		g.Match(readMethods, "/search", s.readTrees, s.handle(t.search))
		g.Match(readMethods, "/events", s.readTrees, s.handle(t.events))
		g.Match(readMethods, "/:id", s.readTrees, s.handle(t.getNode))
		g.Match(readMethods, "/:id/ancestors", s.readTrees, s.handle(t.ancestors))
		g.POST("", s.require(auth.ScopeTreesWrite), s.handle(t.create))
		g.PATCH("/:id", s.require(auth.ScopeTreesWrite), s.handle(t.update))
		g.DELETE("/:id", s.require(auth.ScopeTreesWrite), s.handle(t.remove))
	}
	v1.POST("/wards", s.require(auth.ScopeTreesWrite), s.handle(s.createWard))
	v1.Match(readMethods, "/wards/:id", s.readTrees, s.handle(s.getWard))
	v1.PATCH("/wards/:id", s.require(auth.ScopeTreesWrite), s.handle(s.updateWard))
	v1.DELETE("/wards/:id", s.require(auth.ScopeTreesWrite), s.handle(s.deleteWard))
	v1.Match(readMethods, "/wards/:id/patients", s.require(auth.ScopePatientsRead), s.handle(s.wardPatients))

	v1.POST("/patients/bulk", s.require(auth.ScopePatientsWrite), s.handle(s.bulkPatients))
	v1.Match(readMethods, "/patients/:uid", s.require(auth.ScopePatientsRead), s.handle(s.getPatient))
	v1.POST("/observations/bulk", s.require(auth.ScopePatientsWrite), s.handle(s.bulkObservations))
	v1.Match(readMethods, "/observations/hourly", s.require(auth.ScopePatientsRead), s.handle(s.hourlyObservations))
	v1.POST("/predictions/bulk", s.require(auth.ScopePatientsWrite), s.handle(s.bulkPredictions))
	v1.Match(readMethods, "/alarm-rules", s.require(auth.ScopeAdmin), s.handle(s.listAlarmRules))
	v1.PUT("/alarm-rules/:target", s.require(auth.ScopeAdmin), s.handle(s.putAlarmRule))
	v1.DELETE("/alarm-rules/:target", s.require(auth.ScopeAdmin), s.handle(s.deleteAlarmRule))
	v1.Match(readMethods, "/alarms", s.require(auth.ScopePatientsRead), s.handle(s.listAlarms))
	v1.Match(readMethods, "/alarms/stream", s.require(auth.ScopePatientsRead), s.handle(s.alarmStream))
	v1.POST("/alarms/:id/acknowledge", s.require(auth.ScopePatientsWrite), s.handle(s.acknowledgeAlarm))

	v1.Match(readMethods, "/users", s.require(auth.ScopeArticlesRead), s.handle(s.listUsers))
	v1.Match(readMethods, "/users/:user_id/articles", s.require(auth.ScopeArticlesRead), s.handle(s.listArticles))
	v1.Match(readMethods, "/users/:user_id/articles/calendar", s.require(auth.ScopeArticlesRead), s.handle(s.articleCalendar))
	v1.POST("/articles/bulk", s.require(auth.ScopeArticlesWrite), s.handle(s.bulkArticles))
	v1.PATCH("/articles/:id", s.require(auth.ScopeArticlesWrite), s.handle(s.updateArticle))
	v1.POST("/newsletters", s.require(auth.ScopeArticlesWrite), s.handle(s.createNewsletter))
	v1.Match(readMethods, "/settlements", s.require(auth.ScopeSettlementsRead), s.handle(s.getSettlement))

	v1.POST("/tokens", s.require(auth.ScopeAdmin), s.handle(s.createToken))
	v1.Match(readMethods, "/tokens", s.require(auth.ScopeAdmin), s.handle(s.listTokens))
	v1.DELETE("/tokens/:id", s.require(auth.ScopeAdmin), s.handle(s.revokeToken))
	v1.Match(readMethods, "/audit", s.require(auth.ScopeAdmin), s.handle(s.listAudit))
	s.table = newRouteTable(e.Routes())
	return e
}

// Live runs what the event streams need, the listening connection and the
// pruning of old events, until ctx is done, and then ends every stream.
// Serve runs it; a caller serving the handler itself runs it beside.
func (s *Server) Live(ctx context.Context) {
	if s.cfg.ListenURL == "" {
		s.log.Warn("no listen URL: the event streams are off")
		return
	}
	s.live.run(ctx, s.cfg.EventRetention)
}

// Serve answers HTTP on ln until ctx is done, then stops taking connections,
// lets in-flight requests finish (up to the shutdown timeout) and returns.
// The event streams end at once: they never end by themselves.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	liveCtx, stopLive := context.WithCancel(ctx)
	live := make(chan struct{})
	go func() {
		s.Live(liveCtx)
		close(live)
	}()
	defer func() {
		stopLive()
		<-live
	}()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	<-served
	return err
}
