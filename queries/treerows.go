package queries

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"

	"canopy/tree"
)

// treeColumns is how many columns every tree read selects before its
// extra ones (nodeRows lists them).
const treeColumns = 12

// rowReader reads the tree columns of a result's rows straight from their
// binary form. For a forest of 10k rows pgx's Scan, which plans and converts
// each of the 120k values through interfaces and allocates each nullable
// parent id on its own, cost more than linking and encoding the forest; the
// twelve columns are fixed, so they are read here directly. A result sent
// in text (a connection with default_query_exec_mode=simple_protocol) is
// read by Scan instead: binary says whether rowReader can read it. The
// columns are in nodeRows' order: leaf, id, parent_id, name, position,
// depth, path, child_count, code, beds, occupied, match.
type rowReader struct {
	binary bool
	ids    []int64 // where the parent ids point: filled a block at a time
}

func newRowReader(rows pgx.Rows) *rowReader {
	fields := rows.FieldDescriptions()
	r := &rowReader{binary: len(fields) >= treeColumns}
	for i, f := range fields[:min(len(fields), treeColumns)] {
		// A text column's bytes are the same in either format, and pgx
		// asks for text.
		text := i == 3 || i == 8
		r.binary = r.binary && (text || f.Format == pgx.BinaryFormatCode)
	}
	return r
}

// read fills row from the current row's tree columns.
func (rr *rowReader) read(raw [][]byte, row *tree.Row) error {
	var err error
	intAt := func(i int) int64 {
		n, e := binaryInt(raw[i])
		if e != nil && err == nil {
			err = fmt.Errorf("queries: tree column %d: %w", i, e)
		}
		return n
	}
	optionalAt := func(i int) *int {
		if raw[i] == nil {
			return nil
		}
		n := int(intAt(i))
		return &n
	}
	row.Leaf = len(raw[0]) == 1 && raw[0][0] == 1
	row.ID = intAt(1)
	row.ParentID = nil
	if raw[2] != nil {
		if len(rr.ids) == cap(rr.ids) {
			rr.ids = make([]int64, 0, 1024)
		}
		rr.ids = append(rr.ids, intAt(2))
		row.ParentID = &rr.ids[len(rr.ids)-1]
	}
	row.Name = string(raw[3])
	row.Position = int32(intAt(4))
	row.Depth = int(intAt(5))
	if row.Path, err = binaryInt8Array(raw[6]); err != nil {
		return fmt.Errorf("queries: tree column 6: %w", err)
	}
	row.ChildCount = int(intAt(7))
	row.Code = string(raw[8])
	row.Beds = optionalAt(9)
	row.Occupied = optionalAt(10)
	row.Match = len(raw[11]) == 1 && raw[11][0] == 1
	return err
}

// binaryInt reads a smallint, integer or bigint in binary form.
func binaryInt(b []byte) (int64, error) {
	switch len(b) {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("%d bytes is not an integer", len(b))
}

// binaryInt8Array reads a one-dimensional bigint[] without nulls in binary
// form (nil for SQL NULL): a header of dimensions, a flag, the element type,
// each dimension's length and lower bound, then each element's length and
// value.
func binaryInt8Array(b []byte) ([]int64, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) < 12 {
		return nil, fmt.Errorf("array of %d bytes", len(b))
	}
	switch dims := binary.BigEndian.Uint32(b); dims {
	case 0:
		return []int64{}, nil
	case 1:
	default:
		return nil, fmt.Errorf("array of %d dimensions", dims)
	}
	if len(b) < 20 {
		return nil, fmt.Errorf("array of %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	b = b[20:]
	if len(b) != 12*n {
		return nil, fmt.Errorf("array of %d bigints in %d bytes", n, len(b))
	}
	out := make([]int64, n)
	for i := range out {
		if binary.BigEndian.Uint32(b) != 8 {
			return nil, fmt.Errorf("array element %d is not a bigint", i)
		}
		out[i] = int64(binary.BigEndian.Uint64(b[4:]))
		b = b[12:]
	}
	return out, nil
}
