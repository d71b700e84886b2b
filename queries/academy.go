package queries

// The academy tables (teachers, courses, packages, kits, purchases) are
// written by the import only, and read by settlements. They keep the source
// system's ids (BY DEFAULT identities, see migrations/000005_listings.up.sql),
// so each row's natural key is its id, and references are by id too. After
// the last batch the table's identity is moved past the largest id, so that
// rows added later without an id (by canopy itself) do not collide with
// imported ones.

// identityPastMaxSQL moves table's identity past its largest id. It sets the
// identity to the largest id as already used, not to that id + 1 as not yet
// used: an id may be the largest bigint, and max(id) + 1 would overflow.
// An empty table's identity starts again at 1.
func identityPastMaxSQL(table string) string {
	return `SELECT setval(pg_get_serial_sequence('` + table + `', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM ` + table
}

// byIDImport is the FlatImport of an academy table whose rows are written
// whole: a row's values are its id, then cols; a new id is inserted, and a
// stored row is updated where one of cols differs.
func byIDImport(table string, cols columnList) *FlatImport {
	return &FlatImport{
		columns: append(columnList{{"id", "bigint"}}, cols...),
		upsert: batchSQL(`written AS (
    INSERT INTO ` + table + ` (id, ` + cols.names("") + `)
    SELECT id, ` + cols.names("") + ` FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET ` + cols.sets("excluded") + `
    WHERE (` + cols.names(table+".") + `)
          IS DISTINCT FROM (` + cols.names("excluded.") + `)
    RETURNING ` + table + `.xmax = 0 AS inserted
)`),
		finish: identityPastMaxSQL(table),
	}
}

// ImportTeachers writes teachers by id. A row's values: id, name,
// commission_rate (a decimal as text, which PostgreSQL reads exactly).
var ImportTeachers = byIDImport("teachers", columnList{{"name", "text"}, {"commission_rate", "numeric"}})

// ImportCourses writes courses by id. A row's values: id, teacher_id,
// title, price.
var ImportCourses = byIDImport("courses", columnList{{"teacher_id", "bigint"}, {"title", "text"}, {"price", "bigint"}})

// ImportPackages writes packages by id, with the list of their courses:
// after the import a package has exactly the courses its row lists. A row's
// values: id, title, price, course_ids ([]int64, empty for none).
var ImportPackages = &FlatImport{
	columns: columnList{{"id", "bigint"}, {"title", "text"}, {"price", "bigint"}, {"course_ids", "bigint[]"}},
	upsert: batchSQL(`packages_written AS (
    INSERT INTO packages AS p (id, title, price)
    SELECT id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET title = excluded.title, price = excluded.price
    WHERE (p.title, p.price) IS DISTINCT FROM (excluded.title, excluded.price)
    RETURNING p.id, p.xmax = 0 AS inserted
),
unlinked AS (
    DELETE FROM package_courses pc USING src s
    WHERE pc.package_id = s.id AND pc.course_id <> ALL (s.course_ids)
    RETURNING pc.package_id
),
linked AS (
    INSERT INTO package_courses (package_id, course_id)
    SELECT s.id, c.course_id FROM src s, unnest(s.course_ids) AS c(course_id)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING
    RETURNING package_id
),
written AS (
    SELECT id, inserted FROM packages_written
    UNION
    SELECT package_id, false FROM (SELECT package_id FROM unlinked UNION SELECT package_id FROM linked) l
    WHERE package_id NOT IN (SELECT id FROM packages_written)
)`),
	finish: identityPastMaxSQL("packages"),
}

// ImportKits writes kits by id. A row's values: id, course_id, title, price.
var ImportKits = byIDImport("kits", columnList{{"course_id", "bigint"}, {"title", "text"}, {"price", "bigint"}})

// ImportPurchases writes purchases by id. A row's values: id, product_type,
// product_id, buyer, price, refund, status, purchased_at.
var ImportPurchases = byIDImport("purchases", columnList{{"product_type", "text"}, {"product_id", "bigint"}, {"buyer", "text"},
	{"price", "bigint"}, {"refund", "bigint"}, {"status", "text"}, {"purchased_at", "timestamptz"}})
