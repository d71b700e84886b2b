package queries

import (
	"context"
	"errors"
)

const schemaVersionSQL = `SELECT version, dirty FROM schema_migrations LIMIT 1`

// SchemaVersion is the migration version the database is at, and whether a
// failed migration left it dirty. A database never migrated is version 0.
func (s *Store) SchemaVersion(ctx context.Context) (version uint, dirty bool, err error) {
	var v int64
	err = s.db.QueryRow(ctx, schemaVersionSQL).Scan(&v, &dirty)
	if err != nil {
		err = translate(err)
		if isUndefinedTable(err) || errors.Is(err, ErrNotFound) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return uint(v), dirty, nil
}
