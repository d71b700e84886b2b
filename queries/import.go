package queries

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The import's statements (package importer reads the files and checks the
// values; it writes through an Import). For every kind but the two trees
// (see importtrees.go):
//
//   - References are resolved in the importer, from maps of natural keys to
//     ids read once per run (DepartmentIDs, WardIDs, ...): one statement per
//     table, never one per row.
//   - Each batch is COPYed into a temporary staging table and written by ONE
//     set-based statement (see batchSQL), in a transaction of its own: an
//     INSERT ... SELECT ... ON CONFLICT (natural key) DO UPDATE ... WHERE
//     something changed, that tells inserted rows from updated ones (xmax = 0
//     on a row version only an insert made); rows it leaves alone are
//     unchanged.
//   - A natural key met again in a later batch is a duplicate: the batch
//     statement claims its keys in a temporary table of the run's keys, so
//     that the set lives in the database, not in the importer's memory.
//
// Each kind's FlatImport is beside the API's statements for its table where
// there are some (patients, observations, predictions, articles, wards,
// newsletters), else in academy.go.

// Import is one import's session: a connection of the pool held from the
// first statement to the last, since the staging tables are temporary tables
// of that session. Close ends it. It is not safe for concurrent use.
type Import struct {
	conn    *pgxpool.Conn
	retry   *Store      // on conn, for its retryContended
	table   *FlatImport // the kind Stage made the staging table for
	columns []string    // the staging table's columns, for COPY
}

// StartImport acquires a connection for an import.
func (d *DB) StartImport(ctx context.Context) (*Import, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, translate(err)
	}
	return &Import{conn: conn, retry: New(conn)}, nil
}

// Close ends the session by closing its connection rather than returning it
// to the pool: its temporary tables, its temp_buffers and whatever state an
// error left behind go with it.
func (im *Import) Close() {
	im.conn.Hijack().Close(context.Background())
}

// The maps of natural keys to ids that an import resolves references with.
const (
	departmentIDsSQL = `SELECT code, id FROM departments`
	wardIDsSQL       = `SELECT d.code, w.name, w.id FROM wards w JOIN departments d ON d.id = w.department_id`
	patientIDsSQL    = `SELECT uid, id FROM patients`
	teacherIDsSQL    = `SELECT id FROM teachers`
	courseIDsSQL     = `SELECT id FROM courses`
	packageIDsSQL    = `SELECT id FROM packages`
	kitIDsSQL        = `SELECT id FROM kits`
)

// WardKey is a ward's natural key: its department's code and its name.
type WardKey struct{ DepartmentCode, Name string }

// DepartmentIDs maps every department's code to its id.
func (im *Import) DepartmentIDs(ctx context.Context) (map[string]int64, error) {
	var code string
	var id int64
	return collectMap(ctx, im.conn, departmentIDsSQL, []any{&code, &id}, func() (string, int64) { return code, id })
}

// WardIDs maps every ward's natural key to its id.
func (im *Import) WardIDs(ctx context.Context) (map[WardKey]int64, error) {
	var k WardKey
	var id int64
	return collectMap(ctx, im.conn, wardIDsSQL, []any{&k.DepartmentCode, &k.Name, &id}, func() (WardKey, int64) { return k, id })
}

// PatientIDs maps every patient's uid to its id.
func (im *Import) PatientIDs(ctx context.Context) (map[string]int64, error) {
	var uid string
	var id int64
	return collectMap(ctx, im.conn, patientIDsSQL, []any{&uid, &id}, func() (string, int64) { return uid, id })
}

// TeacherIDs is the set of the teachers' ids (the source system's, as for
// the other academy tables: see academy.go).
func (im *Import) TeacherIDs(ctx context.Context) (map[int64]bool, error) {
	return im.idSet(ctx, teacherIDsSQL)
}

// CourseIDs is the set of the courses' ids.
func (im *Import) CourseIDs(ctx context.Context) (map[int64]bool, error) {
	return im.idSet(ctx, courseIDsSQL)
}

// PackageIDs is the set of the packages' ids.
func (im *Import) PackageIDs(ctx context.Context) (map[int64]bool, error) {
	return im.idSet(ctx, packageIDsSQL)
}

// KitIDs is the set of the kits' ids.
func (im *Import) KitIDs(ctx context.Context) (map[int64]bool, error) {
	return im.idSet(ctx, kitIDsSQL)
}

func (im *Import) idSet(ctx context.Context, sql string) (map[int64]bool, error) {
	var id int64
	return collectMap(ctx, im.conn, sql, []any{&id}, func() (int64, bool) { return id, true })
}

// collectMap runs sql and puts an entry in the map for each row, read into
// dest and turned into a key and a value by entry.
func collectMap[K comparable, V any](ctx context.Context, db DBTX, sql string, dest []any, entry func() (K, V)) (map[K]V, error) {
	rows, err := db.Query(ctx, sql)
	if err != nil {
		return nil, translate(err)
	}
	m := map[K]V{}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		k, v := entry()
		m[k] = v
		return nil
	})
	return m, translate(err)
}

// FlatImport is how an import writes one kind of record other than a tree
// node: the columns of the values each row brings (its staging table's,
// after the line and the key), the batch statement (see batchSQL), and a
// statement run once after the last batch, if any.
type FlatImport struct {
	columns columnList
	upsert  string
	finish  string
}

// The staging tables of a flat import, private to its session. Rows of
// import_stage vanish at each commit; import_seen holds every key the run
// has written, for telling duplicates across batches.
const (
	stageSetupSQL = `DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, %s) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY)`
	stageDropSQL   = `DROP TABLE IF EXISTS import_stage, import_seen`
	tempBuffersSQL = `SET temp_buffers = '256MB'`
)

// batchSQL is the frame of every flat kind's batch statement. fresh claims
// the batch's keys in the run's seen set; the keys claimed already, by an
// earlier batch, are duplicates in the file and their lines come back in the
// third column. src is the staged rows that are not duplicates. The kind's
// part adds a CTE written, one row per row inserted or changed with a column
// inserted, true for inserts (xmax = 0); rows it leaves alone are unchanged.
func batchSQL(kindPart string) string {
	return `WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
` + kindPart + `
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written`
}

// Stage makes the session's staging tables for a run of t's rows.
func (im *Import) Stage(ctx context.Context, t *FlatImport) error {
	// The run's seen set is a temporary table, cached in the session's
	// local buffers: with PostgreSQL's default of 8MB, a million keys no
	// longer fit and every batch's inserts go to the temporary file. The
	// setting can only change before the session first uses a temporary
	// table; on a connection that has, the default stays.
	im.conn.Exec(ctx, tempBuffersSQL)
	if _, err := im.conn.Exec(ctx, fmt.Sprintf(stageSetupSQL, t.columns.defs())); err != nil {
		return translate(err)
	}
	im.table = t
	im.columns = append([]string{"line", "key"}, t.columns.list()...)
	return nil
}

// BatchCounts is what Write did with a batch: the rows it inserted and
// updated (the others were unchanged, or duplicates), and the lines of the
// duplicates (rows whose key an earlier batch of the run had), in order.
type BatchCounts struct {
	Inserted, Updated int64
	Duplicates        []int64
}

// UUID is a uuid as an import's value: its 16 bytes.
type UUID [16]byte

// UUIDValue makes a UUID one that pgx writes as it is (a pgtype.UUIDValuer):
// a plain [16]byte would be converted, and allocated, once per value.
func (u UUID) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: u, Valid: true}, nil }

// Write stages a batch and writes it, in one transaction run again on
// contention. Each row is its line, its natural key as text (unique in the
// batch), then its values in the order of the staged FlatImport's columns,
// as Go values: int64, int32, float64, bool, string, time.Time, []int64,
// UUID, or a pointer to one of them for a nullable column.
func (im *Import) Write(ctx context.Context, rows [][]any) (BatchCounts, error) {
	var c BatchCounts
	err := im.retry.retryContended(ctx, func() error {
		return translate(pgx.BeginFunc(ctx, im.conn, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_stage"}, im.columns, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			return tx.QueryRow(ctx, im.table.upsert).Scan(&c.Inserted, &c.Updated, &c.Duplicates)
		}))
	})
	return c, err
}

// Finish runs what the kind runs after its last batch, and drops the
// staging tables.
func (im *Import) Finish(ctx context.Context) error {
	if im.table.finish != "" {
		if _, err := im.conn.Exec(ctx, im.table.finish); err != nil {
			return translate(err)
		}
	}
	_, err := im.conn.Exec(ctx, stageDropSQL)
	return translate(err)
}
