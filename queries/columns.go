package queries

import (
	"fmt"
	"strings"
)

// column is a column a bulk write hands to its statement: its name and
// PostgreSQL type.
type column struct{ name, typ string }

// columnList is the columns of a batch of rows as a relation: a staging
// table's, or the arrays a statement unnests. Where the API and the import
// write the same table, both statements are built from one list, so that a
// column is added in one place.
type columnList []column

// names is "a, b, c", each name after prefix (an alias and a dot, or "").
func (l columnList) names(prefix string) string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = prefix + c.name
	}
	return strings.Join(parts, ", ")
}

// list is the names as a slice, for COPY.
func (l columnList) list() []string {
	names := make([]string, len(l))
	for i, c := range l {
		names[i] = c.name
	}
	return names
}

// defs is "a bigint, b text", for a table's definition.
func (l columnList) defs() string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = c.name + " " + c.typ
	}
	return strings.Join(parts, ", ")
}

// arrays is "$first::bigint[], $first+1::text[]": one array parameter per
// column, for unnest.
func (l columnList) arrays(first int) string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = fmt.Sprintf("$%d::%s[]", first+i, c.typ)
	}
	return strings.Join(parts, ", ")
}

// unnested is "unnest($first::bigint[]) AS a, unnest($first+1::text[]) AS
// b": a SELECT list that turns one array parameter per column into rows.
// Set-returning functions in a SELECT list advance in step, row by row; in
// FROM, unnest of several arrays first copies each array's elements into a
// tuplestore of its own, which for a 10,000-record patient batch cost more
// than receiving the arrays at all.
func (l columnList) unnested(first int) string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = fmt.Sprintf("unnest($%d::%s[]) AS %s", first+i, c.typ, c.name)
	}
	return strings.Join(parts, ",\n        ")
}

// sets is "a = source.a, b = source.b", for an UPDATE's SET list.
func (l columnList) sets(source string) string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = c.name + " = " + source + "." + c.name
	}
	return strings.Join(parts, ", ")
}
