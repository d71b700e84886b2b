package queries

import (
	"context"
	"fmt"
	"time"
)

// Ward is a ward of a department: a leaf of the department tree.
type Ward struct {
	ID           int64
	DepartmentID int64
	Name         string
	Beds         int
	Occupied     int // patients admitted, not discharged, not dead
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// wardOccupiedSQL counts the current inpatients of ward w, matching the
// partial index patients_inpatients.
const wardOccupiedSQL = `(SELECT count(*) FROM patients p WHERE p.ward_id = w.id
    AND p.admitted_at IS NOT NULL AND p.discharged_at IS NULL AND p.died_at IS NULL)`

const wardColumns = `w.id, w.department_id, w.name, w.beds, ` + wardOccupiedSQL + `, w.created_at, w.updated_at`

func scanWard(row interface{ Scan(...any) error }) (Ward, error) {
	var w Ward
	err := row.Scan(&w.ID, &w.DepartmentID, &w.Name, &w.Beds, &w.Occupied, &w.CreatedAt, &w.UpdatedAt)
	return w, translate(err)
}

// NewWard is a ward to create.
type NewWard struct {
	DepartmentID int64
	Name         string
	Beds         int
}

const wardCreateSQL = `
INSERT INTO wards AS w (department_id, name, beds) VALUES ($1, $2, $3)
RETURNING ` + wardColumns

// CreateWard adds a ward. An unknown department is a ValidationError on
// department_id; a name already used in the department is ErrConflict.
func (s *Store) CreateWard(ctx context.Context, w NewWard) (Ward, error) {
	return scanWard(s.db.QueryRow(ctx, wardCreateSQL, w.DepartmentID, w.Name, w.Beds))
}

const wardSQL = `SELECT ` + wardColumns + ` FROM wards w WHERE w.id = $1`

// Ward reads a ward with its occupancy, or ErrNotFound.
func (s *Store) Ward(ctx context.Context, id int64) (Ward, error) {
	return scanWard(s.db.QueryRow(ctx, wardSQL, id))
}

// WardPatch changes a ward; nil fields are kept.
type WardPatch struct {
	Name         *string
	Beds         *int
	DepartmentID *int64 // moves the ward, and its patients, to another department
}

const wardUpdateSQL = `
UPDATE wards AS w SET
    name = coalesce($2, w.name),
    beds = coalesce($3, w.beds),
    department_id = coalesce($4, w.department_id),
    updated_at = now()
WHERE w.id = $1
RETURNING ` + wardColumns

// UpdateWard changes a ward and returns it; an unknown id is ErrNotFound, an
// unknown department a ValidationError on department_id.
func (s *Store) UpdateWard(ctx context.Context, id int64, p WardPatch) (Ward, error) {
	return scanWard(s.db.QueryRow(ctx, wardUpdateSQL, id, p.Name, p.Beds, p.DepartmentID))
}

// wardDeleteSQL takes the ward's patients out of it itself, rather than
// leave it to the foreign key's SET NULL, so that their updated_at says
// they changed; the key then finds nothing left to do.
const wardDeleteSQL = `
WITH unwarded AS (
    UPDATE patients SET ward_id = NULL, updated_at = now() WHERE ward_id = $1
)
DELETE FROM wards WHERE id = $1`

// DeleteWard deletes a ward; its patients stay, with no ward (and a new
// updated_at). An unknown id is ErrNotFound.
func (s *Store) DeleteWard(ctx context.Context, id int64) error {
	tag, err := s.db.Exec(ctx, wardDeleteSQL, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: ward %d", ErrNotFound, id)
	}
	return nil
}

// ImportWards writes wards by (department, name). A row's values:
// department_id, name, beds.
var ImportWards = &FlatImport{
	columns: columnList{{"department_id", "bigint"}, {"name", "text"}, {"beds", "integer"}},
	upsert: batchSQL(`written AS (
    INSERT INTO wards AS w (department_id, name, beds)
    SELECT department_id, name, beds FROM src ORDER BY department_id, name
    ON CONFLICT (department_id, name) DO UPDATE SET beds = excluded.beds, updated_at = now()
    WHERE w.beds IS DISTINCT FROM excluded.beds
    RETURNING w.xmax = 0 AS inserted
)`),
}
