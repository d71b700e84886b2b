package queries

import "github.com/jackc/pgx/v5/pgxpool"

// Raw is the pool under a DB, for tests that check the pool's own settings.
func (d *DB) Raw() *pgxpool.Pool { return d.pool }
