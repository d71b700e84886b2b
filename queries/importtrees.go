package queries

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// TreeImport is how an import writes one of the trees, categories or
// departments: by legacy id, the source system's id kept in the legacy_id
// column, so that a re-import updates instead of duplicating. The whole
// import is one transaction (see ImportTree and TreeTx).
type TreeImport struct {
	tree    TreeSpec
	lockKey int64 // the tree's advisory lock key (migrations/000002_trees.up.sql)

	loadSQL, upsertSQL, detachSQL, attachSQL string
}

// The trees an import writes. Departments have a code, unique in the table.
var (
	ImportCategories  = newTreeImport(Categories, 7310001)
	ImportDepartments = newTreeImport(Departments, 7310002)
)

func newTreeImport(tree TreeSpec, lockKey int64) *TreeImport {
	t := &TreeImport{tree: tree, lockKey: lockKey}
	// The statements differ only in the table and the code column, so they
	// are one text each with these filled in.
	codeCol, codeSel, codeSet, codeOld, codeNew, codeLoad := "", "", "", "", "", "NULL::text"
	if c := tree.code; c != "" {
		codeCol, codeSel, codeSet, codeOld, codeNew, codeLoad = ", "+c, ", s.code", ", "+c+" = excluded."+c, ", t."+c, ", excluded."+c, c
	}
	fill := strings.NewReplacer("{table}", tree.table, "{codeCol}", codeCol, "{codeSel}", codeSel,
		"{codeSet}", codeSet, "{codeOld}", codeOld, "{codeNew}", codeNew, "{codeLoad}", codeLoad).Replace
	t.loadSQL = fill(treeLoadSQL)
	t.upsertSQL = fill(treeUpsertSQL)
	t.detachSQL = fill(treeDetachSQL)
	t.attachSQL = fill(treeAttachSQL)
	return t
}

// Table names the tree's table.
func (t *TreeImport) Table() string { return t.tree.table }

// HasCode reports whether the tree's nodes carry a code (departments do),
// unique in the table.
func (t *TreeImport) HasCode() bool { return t.tree.HasCode() }

const (
	treeLockSQL = `SELECT pg_advisory_xact_lock($1)`

	treeLoadSQL = `SELECT id, parent_id, legacy_id, {codeLoad} FROM {table}`

	treeStageSQL = `DROP TABLE IF EXISTS import_tree_stage;
CREATE TEMP TABLE import_tree_stage (
    seq bigint NOT NULL, line bigint NOT NULL, legacy_id text NOT NULL, parent_legacy_id text,
    name text NOT NULL, position integer NOT NULL, code text, original text[] NOT NULL
) ON COMMIT DROP`

	treeDropRejectedSQL = `
WITH dropped AS (
    DELETE FROM import_tree_stage WHERE line = ANY($1) RETURNING line, original
)
SELECT line, original FROM dropped ORDER BY line`

	// treeOrderSQL renumbers the staged rows in the order they are written.
	treeOrderSQL = `UPDATE import_tree_stage s SET seq = o.seq FROM unnest($1::bigint[], $2::bigint[]) AS o(line, seq) WHERE s.line = o.line`

	// treeUpsertSQL writes a batch of nodes by legacy id. A new node is
	// inserted under its parent (stored already); a stored one keeps its
	// parent here, and moves by the two statements below.
	treeUpsertSQL = `
INSERT INTO {table} AS t (legacy_id, parent_id, name, position{codeCol})
SELECT s.legacy_id, p.id, s.name, s.position{codeSel} FROM import_tree_stage s
LEFT JOIN {table} p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2
ORDER BY s.legacy_id
ON CONFLICT (legacy_id) DO UPDATE SET name = excluded.name, position = excluded.position{codeSet}, updated_at = now()
WHERE (t.name, t.position{codeOld}) IS DISTINCT FROM (excluded.name, excluded.position{codeNew})
RETURNING t.legacy_id, t.xmax = 0`

	// treeDetachSQL makes a root of every node of the batch whose parent
	// changes (a move to null runs no cycle check).
	treeDetachSQL = `
UPDATE {table} AS t SET parent_id = NULL, updated_at = now()
FROM import_tree_stage s LEFT JOIN {table} p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id
  AND t.parent_id IS NOT NULL AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id`

	// treeAttachSQL moves every node of the batch under its parent.
	treeAttachSQL = `
UPDATE {table} AS t SET parent_id = p.id, updated_at = now()
FROM import_tree_stage s JOIN {table} p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id`
)

var treeStageColumns = []string{"seq", "line", "legacy_id", "parent_legacy_id", "name", "position", "code", "original"}

// TreeTx is a tree import's transaction, holding the tree's advisory lock
// and a staging table for the file's rows.
type TreeTx struct {
	tx pgx.Tx
	t  *TreeImport
}

// ImportTree runs fn in one transaction, committed when fn returns nil:
// readers see the tree before or after, never half-moved, and an
// interrupted import leaves nothing to clean up. The transaction first takes
// the tree's advisory lock, the one its move trigger takes, so that no move
// through the API interleaves. fn's own error comes back as it is.
func (im *Import) ImportTree(ctx context.Context, t *TreeImport, fn func(*TreeTx) error) error {
	tx, err := im.conn.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, treeLockSQL, t.lockKey); err != nil {
		return translate(err)
	}
	if _, err := tx.Exec(ctx, treeStageSQL); err != nil {
		return translate(err)
	}
	if err := fn(&TreeTx{tx: tx, t: t}); err != nil {
		return err
	}
	return translate(tx.Commit(ctx))
}

// MaxDepth is the greatest depth a node may have (see Store.MaxTreeDepth).
func (tt *TreeTx) MaxDepth(ctx context.Context) (int, error) {
	return New(tt.tx).MaxTreeDepth(ctx)
}

// StoredNode is a node of the tree as stored.
type StoredNode struct {
	ID       int64
	ParentID *int64
	LegacyID *string
	Code     *string // departments only
}

// Nodes calls each for every node stored, in no particular order, from one
// statement.
func (tt *TreeTx) Nodes(ctx context.Context, each func(StoredNode)) error {
	rows, err := tt.tx.Query(ctx, tt.t.loadSQL)
	if err != nil {
		return translate(err)
	}
	var n StoredNode
	_, err = pgx.ForEachRow(rows, []any{&n.ID, &n.ParentID, &n.LegacyID, &n.Code}, func() error {
		each(n)
		return nil
	})
	return translate(err)
}

// Stage copies rows into the staging table. Each row is seq (its place in
// the file, from 1), line, legacy_id, parent_legacy_id (*string), name,
// position (int32), code (*string) and the record as read ([]string).
func (tt *TreeTx) Stage(ctx context.Context, rows [][]any) error {
	_, err := tt.tx.CopyFrom(ctx, pgx.Identifier{"import_tree_stage"}, treeStageColumns, pgx.CopyFromRows(rows))
	return translate(err)
}

// StagedRecord is a staged row taken back out: its line and the record as read.
type StagedRecord struct {
	Line     int64
	Original []string
}

// DropRejected removes the staged rows of lines and returns them, by line.
func (tt *TreeTx) DropRejected(ctx context.Context, lines []int64) ([]StagedRecord, error) {
	rows, err := tt.tx.Query(ctx, treeDropRejectedSQL, lines)
	if err != nil {
		return nil, translate(err)
	}
	var dropped []StagedRecord
	var r StagedRecord
	_, err = pgx.ForEachRow(rows, []any{&r.Line, &r.Original}, func() error {
		dropped = append(dropped, r)
		return nil
	})
	return dropped, translate(err)
}

// Order renumbers the staged rows in the order they are to be written: the
// row of lines[i] gets seqs[i].
func (tt *TreeTx) Order(ctx context.Context, lines, seqs []int64) error {
	_, err := tt.tx.Exec(ctx, treeOrderSQL, lines, seqs)
	return translate(err)
}

// Upsert writes the staged rows whose seq is in [lo, hi) by legacy id: a
// new node is inserted under its parent, which must be stored by then; a
// stored one is updated but keeps its parent (Detach and Attach move it).
// It calls mark for each node inserted (true) or changed (false).
func (tt *TreeTx) Upsert(ctx context.Context, lo, hi int64, mark func(legacy string, inserted bool)) error {
	rows, err := tt.tx.Query(ctx, tt.t.upsertSQL, lo, hi)
	if err != nil {
		return translate(err)
	}
	var legacy string
	var inserted bool
	_, err = pgx.ForEachRow(rows, []any{&legacy, &inserted}, func() error {
		mark(legacy, inserted)
		return nil
	})
	return translate(err)
}

// Detach makes a root of the node of every staged row whose seq is in
// [lo, hi) and whose parent changes, and calls moved for each.
func (tt *TreeTx) Detach(ctx context.Context, lo, hi int64, moved func(legacy string)) error {
	return tt.move(ctx, tt.t.detachSQL, lo, hi, moved)
}

// Attach moves the node of every staged row whose seq is in [lo, hi) under
// its parent, where it is not already, and calls moved for each. Done after
// Detach over all the rows, each move keeps the tree free of cycles.
func (tt *TreeTx) Attach(ctx context.Context, lo, hi int64, moved func(legacy string)) error {
	return tt.move(ctx, tt.t.attachSQL, lo, hi, moved)
}

func (tt *TreeTx) move(ctx context.Context, sql string, lo, hi int64, moved func(string)) error {
	rows, err := tt.tx.Query(ctx, sql, lo, hi)
	if err != nil {
		return translate(err)
	}
	var legacy string
	_, err = pgx.ForEachRow(rows, []any{&legacy}, func() error {
		moved(legacy)
		return nil
	})
	return translate(err)
}
