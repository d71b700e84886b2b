package main

import (
	"context"
	"log/slog"

	"canopy/migrations"
	"canopy/pgcluster"
	"canopy/queries"
)

// embeddedDatabase is the database canopy creates in its embedded cluster.
const embeddedDatabase = "canopy"

// database is where a subcommand's data lives: the configured URL, or the
// embedded cluster, started (or found already running) in the data directory.
type database struct {
	URL     string
	cluster *pgcluster.Cluster
}

func openDatabase(ctx context.Context, cfg config, log *slog.Logger) (*database, error) {
	if cfg.DatabaseURL != "" {
		return &database{URL: cfg.DatabaseURL}, nil
	}
	log.Info("starting the embedded PostgreSQL", "data_dir", cfg.DataDir)
	// Only the default may move: `make run` from a checkout in root's 0700
	// home must just work, while a directory someone chose is theirs to fix.
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: cfg.DataDir, Durable: true, Relocate: cfg.DataDir == defaultDataDir})
	if err != nil {
		return nil, err
	}
	if blocked := cluster.Relocated(); blocked != "" {
		log.Info("the postgres system user cannot enter "+blocked+", so the embedded PostgreSQL keeps its data in "+
			cluster.DataDir()+", and "+cfg.DataDir+" links there (the same place on every run from this directory)",
			"cluster_dir", cluster.DataDir())
	}
	db := &database{URL: cluster.URL(embeddedDatabase), cluster: cluster}
	if err := cluster.EnsureDatabase(ctx, embeddedDatabase); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close stops the embedded cluster, if this process started it.
func (d *database) Close() {
	if d.cluster != nil {
		d.cluster.Stop()
	}
}

// openPool opens the database (the embedded one, or the URL), migrates it
// when cfg.Migrate says so, and returns a small pool on it: the import and
// the seed use one connection at a time.
func openPool(ctx context.Context, cfg config, log *slog.Logger) (*queries.DB, func(), error) {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Migrate {
		if err := migrations.Up(db.URL); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: db.URL, MaxConns: 2})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); db.Close() }, nil
}
