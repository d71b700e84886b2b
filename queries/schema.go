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

// holdsDataSQL says whether any table the seed fills has a row (observations,
// predictions, courses and the rest need rows in these first).
const holdsDataSQL = `SELECT EXISTS (SELECT FROM categories) OR EXISTS (SELECT FROM departments)
    OR EXISTS (SELECT FROM wards) OR EXISTS (SELECT FROM patients) OR EXISTS (SELECT FROM newsletters)
    OR EXISTS (SELECT FROM articles) OR EXISTS (SELECT FROM teachers) OR EXISTS (SELECT FROM purchases)`

// HoldsData reports whether the database holds any of the data canopy seed
// writes, so that `canopy seed --if-empty` leaves a used database alone.
func (s *Store) HoldsData(ctx context.Context) (bool, error) {
	var holds bool
	err := s.db.QueryRow(ctx, holdsDataSQL).Scan(&holds)
	return holds, translate(err)
}
