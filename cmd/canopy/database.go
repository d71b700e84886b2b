package main

import (
	"context"
	"log/slog"

	"canopy/pgcluster"
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
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: cfg.DataDir, Durable: true})
	if err != nil {
		return nil, err
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
