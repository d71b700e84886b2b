package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"canopy/server"
)

// config is canopy's whole configuration. Every setting has a flag, an
// environment variable and a default (see the README's table); a flag wins
// over the environment.
type config struct {
	Addr string
	// MetricsAddr, when set, serves /metrics there and not on Addr.
	MetricsAddr      string
	DatabaseURL      string
	DataDir          string
	Migrate          bool
	PoolSize         int
	StatementTimeout time.Duration
	LogFormat        string
	// ReplicaURLs are streaming replicas of the database that GET requests
	// may read from; ReplicaMaxLag is how far one may trail and still be used.
	ReplicaURLs   []string
	ReplicaMaxLag time.Duration
	// MaxTreeDepth, when positive, is written to the database at start as
	// the greatest depth of a tree node, which the database then enforces
	// for every writer; 0 keeps the database's (1000 unless changed).
	MaxTreeDepth int
	Server       server.Config
}

// defaultDataDir is the embedded database's data directory unless one is
// set. Unlike a chosen one, it moves under /var/lib/canopy when root's
// cluster, run as the postgres system user, cannot reach it (pgcluster's
// Options.Relocate).
const defaultDataDir = ".canopy/pgdata"

func defaultConfig() config {
	return config{
		Addr:             ":8080",
		DataDir:          defaultDataDir,
		Migrate:          true,
		PoolSize:         10,
		StatementTimeout: 5 * time.Second,
		LogFormat:        "text",
		ReplicaMaxLag:    time.Second,
		Server:           server.DefaultConfig(),
	}
}

// env reads settings from the environment into cfg, before flags override them.
type env struct{ errs []error }

func (e *env) string(dst *string, names ...string) {
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok && v != "" {
			*dst = v
			return
		}
	}
}

func (e *env) bool(dst *bool, name string) {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not a boolean", name, v))
			return
		}
		*dst = b
	}
}

func (e *env) int(dst *int, name string) {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not an integer", name, v))
			return
		}
		*dst = n
	}
}

func (e *env) int64(dst *int64, name string) {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not an integer", name, v))
			return
		}
		*dst = n
	}
}

func (e *env) duration(dst *time.Duration, name string) {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: not a duration (like 5s or 250ms)", name, v))
			return
		}
		*dst = d
	}
}

// fromEnv returns the defaults overridden by the environment.
func fromEnv() (config, error) {
	cfg := defaultConfig()
	var e env
	e.string(&cfg.Addr, "CANOPY_ADDR")
	e.string(&cfg.MetricsAddr, "CANOPY_METRICS_ADDR")
	e.string(&cfg.DatabaseURL, "CANOPY_DATABASE_URL", "DATABASE_URL")
	e.string(&cfg.DataDir, "CANOPY_DATA_DIR")
	e.bool(&cfg.Migrate, "CANOPY_MIGRATE")
	e.int(&cfg.PoolSize, "CANOPY_POOL_SIZE")
	e.duration(&cfg.StatementTimeout, "CANOPY_STATEMENT_TIMEOUT")
	e.string(&cfg.LogFormat, "CANOPY_LOG_FORMAT")
	e.int64(&cfg.Server.BodyLimit, "CANOPY_BODY_LIMIT")
	e.duration(&cfg.Server.RequestTimeout, "CANOPY_REQUEST_TIMEOUT")
	e.bool(&cfg.Server.PublicReads, "CANOPY_PUBLIC_READS")
	e.duration(&cfg.Server.TokenCacheTTL, "CANOPY_TOKEN_CACHE_TTL")
	e.duration(&cfg.Server.ShutdownTimeout, "CANOPY_SHUTDOWN_TIMEOUT")
	e.duration(&cfg.Server.ReadHeaderTimeout, "CANOPY_READ_HEADER_TIMEOUT")
	e.duration(&cfg.Server.ReadTimeout, "CANOPY_READ_TIMEOUT")
	if v := os.Getenv("CANOPY_CORS_ORIGINS"); v != "" {
		cfg.Server.CORSOrigins = splitList(v)
	}
	if v := os.Getenv("CANOPY_REPLICA_URLS"); v != "" {
		cfg.ReplicaURLs = splitList(v)
	}
	e.duration(&cfg.ReplicaMaxLag, "CANOPY_REPLICA_MAX_LAG")
	e.int(&cfg.MaxTreeDepth, "CANOPY_MAX_TREE_DEPTH")
	e.string(&cfg.Server.ListenURL, "CANOPY_LISTEN_URL")
	e.duration(&cfg.Server.EventRetention, "CANOPY_EVENT_RETENTION")
	e.duration(&cfg.Server.StreamKeepAlive, "CANOPY_STREAM_KEEPALIVE")
	return cfg, errors.Join(e.errs...)
}

// databaseFlags registers the settings every subcommand that reaches the
// database shares.
func (c *config) databaseFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL; empty runs the embedded database in --data-dir (env CANOPY_DATABASE_URL or DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory of the embedded database (env CANOPY_DATA_DIR); as root, the default links to /var/lib/canopy/<hash>/pgdata when the postgres user cannot reach it")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json (env CANOPY_LOG_FORMAT)")
}

// serveFlags registers the settings of `canopy serve`.
func (c *config) serveFlags(fs *flag.FlagSet) {
	c.databaseFlags(fs)
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to serve HTTP on (env CANOPY_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics on this address (such as 127.0.0.1:9090) and not on --addr (env CANOPY_METRICS_ADDR; default: on --addr)")
	fs.BoolVar(&c.Migrate, "migrate", c.Migrate, "apply pending migrations on start (env CANOPY_MIGRATE)")
	fs.IntVar(&c.PoolSize, "pool-size", c.PoolSize, "largest number of database connections (env CANOPY_POOL_SIZE)")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", c.StatementTimeout, "server-side limit on any one SQL statement (env CANOPY_STATEMENT_TIMEOUT)")
	fs.Int64Var(&c.Server.BodyLimit, "body-limit", c.Server.BodyLimit, "largest request body in bytes (env CANOPY_BODY_LIMIT)")
	fs.DurationVar(&c.Server.RequestTimeout, "request-timeout", c.Server.RequestTimeout, "limit on a request's database work (env CANOPY_REQUEST_TIMEOUT)")
	fs.BoolVar(&c.Server.PublicReads, "public-reads", c.Server.PublicReads, "serve tree reads without a token (env CANOPY_PUBLIC_READS)")
	fs.DurationVar(&c.Server.TokenCacheTTL, "token-cache-ttl", c.Server.TokenCacheTTL, "how long a checked token is remembered: the longest a revoked token keeps working (env CANOPY_TOKEN_CACHE_TTL)")
	fs.DurationVar(&c.Server.ShutdownTimeout, "shutdown-timeout", c.Server.ShutdownTimeout, "grace for in-flight requests on shutdown (env CANOPY_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.Server.ReadHeaderTimeout, "read-header-timeout", c.Server.ReadHeaderTimeout, "time a client has to send a request's headers (env CANOPY_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.Server.ReadTimeout, "read-timeout", c.Server.ReadTimeout, "time a client has to send a whole request, body included (env CANOPY_READ_TIMEOUT)")
	fs.Func("cors-origins", "comma-separated browser origins allowed to call the API, or * (env CANOPY_CORS_ORIGINS; default none: CORS off)", func(v string) error {
		c.Server.CORSOrigins = splitList(v)
		return nil
	})
	replicaURLs := false // the first flag replaces the environment's list, later ones add to it
	fs.Func("replica-url", "URL of a streaming replica GET requests may read from; repeat for several (env CANOPY_REPLICA_URLS, comma-separated)", func(v string) error {
		if !replicaURLs {
			c.ReplicaURLs, replicaURLs = nil, true
		}
		c.ReplicaURLs = append(c.ReplicaURLs, v)
		return nil
	})
	fs.DurationVar(&c.ReplicaMaxLag, "replica-max-lag", c.ReplicaMaxLag, "how far a replica may trail the primary and still be read from (env CANOPY_REPLICA_MAX_LAG)")
	fs.StringVar(&c.Server.ListenURL, "listen-url", c.Server.ListenURL, "PostgreSQL URL of the one LISTEN connection that feeds the event streams: straight to PostgreSQL, not through a pooler in transaction mode (env CANOPY_LISTEN_URL; default: the database URL)")
	fs.DurationVar(&c.Server.EventRetention, "event-retention", c.Server.EventRetention, "how long alarm events are kept for clients that reconnect to replay (env CANOPY_EVENT_RETENTION)")
	fs.DurationVar(&c.Server.StreamKeepAlive, "stream-keepalive", c.Server.StreamKeepAlive, "how often an idle event stream gets a comment line, so that proxies keep it open (env CANOPY_STREAM_KEEPALIVE)")
	fs.IntVar(&c.MaxTreeDepth, "max-tree-depth", c.MaxTreeDepth, "greatest depth of a tree node (a root is 0), written to the database at start and enforced there for every writer; 0 keeps the database's, 1000 by default (env CANOPY_MAX_TREE_DEPTH)")
}

// validate reports the first setting that cannot work.
func (c config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("no address to serve on")
	case c.DatabaseURL == "" && c.DataDir == "":
		return errors.New("no database: set --database-url, or --data-dir for the embedded one")
	case c.PoolSize < 1:
		return fmt.Errorf("pool size %d: at least 1", c.PoolSize)
	case c.StatementTimeout < 0:
		return errors.New("statement timeout cannot be negative")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("log format %q: text or json", c.LogFormat)
	case c.ReplicaMaxLag <= 0:
		return errors.New("replica max lag must be positive")
	case c.MaxTreeDepth < 0:
		return fmt.Errorf("max tree depth %d cannot be negative (0 keeps the database's)", c.MaxTreeDepth)
	}
	return c.Server.Validate()
}
