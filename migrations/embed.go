// Package migrations holds canopy's schema as golang-migrate SQL files, embedded
// in the binary, and runs them.
package migrations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed *.sql
var files embed.FS

// Latest is the version of the newest embedded migration: the version a
// database must be at for canopy to serve it.
func Latest() uint {
	entries, _ := fs.ReadDir(files, ".")
	var latest uint
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseUint(prefix, 10, 64); err == nil && uint(v) > latest {
			latest = uint(v)
		}
	}
	return latest
}

// Migrator runs the embedded migrations against one database. Concurrent
// migrators on the same database serialise on golang-migrate's advisory lock.
type Migrator struct {
	m *migrate.Migrate
}

// Open prepares a Migrator for the database at databaseURL (postgres:// or
// postgresql://; rewritten to the pgx5:// scheme golang-migrate's driver expects).
func Open(databaseURL string) (*Migrator, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("migrations: database url: %w", err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		u.Scheme = "pgx5"
	default:
		return nil, fmt.Errorf("migrations: database url scheme %q, want postgres://", u.Scheme)
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("migrations: connect: %w", err)
	}
	return &Migrator{m: m}, nil
}

// Close releases the migrator's connection.
func (g *Migrator) Close() error {
	srcErr, dbErr := g.m.Close()
	return errors.Join(srcErr, dbErr)
}

// Up applies every migration not yet applied; an up-to-date database is not an error.
func (g *Migrator) Up() error {
	if err := g.m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Down reverts the n most recent migrations.
func (g *Migrator) Down(n int) error {
	if n < 1 {
		return fmt.Errorf("migrations: down takes a positive number of steps, got %d", n)
	}
	if err := g.m.Steps(-n); err != nil {
		return fmt.Errorf("migrations: down %d: %w", n, err)
	}
	return nil
}

// Version reports the applied version (0 for a fresh database) and whether a
// failed migration left it dirty.
func (g *Migrator) Version() (version uint, dirty bool, err error) {
	v, dirty, err := g.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migrations: version: %w", err)
	}
	return v, dirty, nil
}

// Force records version v as applied and clean without running anything: the
// way out after a failed migration has been repaired by hand.
func (g *Migrator) Force(v int) error {
	if err := g.m.Force(v); err != nil {
		return fmt.Errorf("migrations: force %d: %w", v, err)
	}
	return nil
}

// Up opens a migrator for databaseURL, applies every pending migration and closes it.
func Up(databaseURL string) error {
	g, err := Open(databaseURL)
	if err != nil {
		return err
	}
	return errors.Join(g.Up(), g.Close())
}
