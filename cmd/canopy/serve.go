package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"canopy/migrations"
	"canopy/queries"
	"canopy/server"
)

func serveCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy serve", flag.ContinueOnError)
	cfg.serveFlags(fs)
	args, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", args)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return serve(ctx, cfg, log, nil)
}

// serve runs canopy until ctx is done. onListen, if set, learns the address
// served (tests serve on :0).
func serve(ctx context.Context, cfg config, log *slog.Logger, onListen func(net.Addr)) error {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.Migrate {
		if err := migrations.Up(db.URL); err != nil {
			return err
		}
	}
	poolCfg := queries.PoolConfig{
		URL:              db.URL,
		MaxConns:         int32(cfg.PoolSize),
		StatementTimeout: cfg.StatementTimeout,
		ConnectTimeout:   2 * time.Second,
	}
	pool, err := queries.Open(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.MaxTreeDepth > 0 {
		if err := pool.SetMaxTreeDepth(ctx, cfg.MaxTreeDepth); err != nil {
			return fmt.Errorf("setting the maximum tree depth: %w", err)
		}
	}
	if len(cfg.ReplicaURLs) > 0 {
		replicas, err := queries.OpenReplicas(ctx, pool, poolCfg, queries.ReplicaConfig{URLs: cfg.ReplicaURLs, MaxLag: cfg.ReplicaMaxLag}, log)
		if err != nil {
			return err
		}
		checkCtx, stopChecking := context.WithCancel(ctx)
		checking := make(chan struct{})
		go func() {
			replicas.Run(checkCtx)
			close(checking)
		}()
		defer func() {
			stopChecking()
			<-checking
			replicas.Close()
		}()
		cfg.Server.Replicas = replicas
	}
	cfg.Server.PrivateMetrics = cfg.MetricsAddr != ""
	if cfg.Server.ListenURL == "" {
		cfg.Server.ListenURL = db.URL
	}
	srv := server.New(cfg.Server, pool, migrations.Latest(), log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, srv.MetricsHandler(), log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	log.Info("canopy serving", "addr", ln.Addr().String())
	if onListen != nil {
		onListen(ln.Addr())
	}
	return srv.Serve(ctx, ln)
}

// serveMetrics serves h on addr until stop is called.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address: %w", err)
	}
	log.Info("metrics serving", "addr", ln.Addr().String())
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return func() { hs.Close() }, nil
}
