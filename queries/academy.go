package queries

// The academy tables (teachers, courses, packages, kits, purchases) are
// written by the import only, and read by settlements. They keep the source
// system's ids (BY DEFAULT identities, see migrations/000005_listings.up.sql),
// so each row's natural key is its id, and references are by id too. After
// the last batch the table's identity is moved past the largest id, so that
// rows added later without an id (by canopy itself) do not collide with
// imported ones.

// identityPastMaxSQL moves table's identity past its largest id.
func identityPastMaxSQL(table string) string {
	return `SELECT setval(pg_get_serial_sequence('` + table + `', 'id'), coalesce(max(id), 0) + 1, false) FROM ` + table
}

// ImportTeachers writes teachers by id. A row's values: id, name,
// commission_rate (a decimal as text, for PostgreSQL to read exactly).
var ImportTeachers = &FlatImport{
	columns: columnList{{"id", "bigint"}, {"name", "text"}, {"commission_rate", "text"}},
	upsert: batchSQL(`written AS (
    INSERT INTO teachers AS t (id, name, commission_rate)
    SELECT id, name, commission_rate::numeric FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, commission_rate = excluded.commission_rate
    WHERE (t.name, t.commission_rate) IS DISTINCT FROM (excluded.name, excluded.commission_rate)
    RETURNING t.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("teachers"),
}

// ImportCourses writes courses by id. A row's values: id, teacher_id,
// title, price.
var ImportCourses = &FlatImport{
	columns: columnList{{"id", "bigint"}, {"teacher_id", "bigint"}, {"title", "text"}, {"price", "bigint"}},
	upsert: batchSQL(`written AS (
    INSERT INTO courses AS c (id, teacher_id, title, price)
    SELECT id, teacher_id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET teacher_id = excluded.teacher_id, title = excluded.title, price = excluded.price
    WHERE (c.teacher_id, c.title, c.price) IS DISTINCT FROM (excluded.teacher_id, excluded.title, excluded.price)
    RETURNING c.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("courses"),
}

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
var ImportKits = &FlatImport{
	columns: columnList{{"id", "bigint"}, {"course_id", "bigint"}, {"title", "text"}, {"price", "bigint"}},
	upsert: batchSQL(`written AS (
    INSERT INTO kits AS k (id, course_id, title, price)
    SELECT id, course_id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET course_id = excluded.course_id, title = excluded.title, price = excluded.price
    WHERE (k.course_id, k.title, k.price) IS DISTINCT FROM (excluded.course_id, excluded.title, excluded.price)
    RETURNING k.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("kits"),
}

// ImportPurchases writes purchases by id. A row's values: id, product_type,
// product_id, buyer, price, refund, status, purchased_at.
var ImportPurchases = &FlatImport{
	columns: columnList{{"id", "bigint"}, {"product_type", "text"}, {"product_id", "bigint"}, {"buyer", "text"},
		{"price", "bigint"}, {"refund", "bigint"}, {"status", "text"}, {"purchased_at", "timestamptz"}},
	upsert: batchSQL(`written AS (
    INSERT INTO purchases AS p (id, product_type, product_id, buyer, price, refund, status, purchased_at)
    SELECT id, product_type, product_id, buyer, price, refund, status, purchased_at FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET product_type = excluded.product_type, product_id = excluded.product_id,
        buyer = excluded.buyer, price = excluded.price, refund = excluded.refund, status = excluded.status,
        purchased_at = excluded.purchased_at
    WHERE (p.product_type, p.product_id, p.buyer, p.price, p.refund, p.status, p.purchased_at)
          IS DISTINCT FROM (excluded.product_type, excluded.product_id, excluded.buyer, excluded.price,
                            excluded.refund, excluded.status, excluded.purchased_at)
    RETURNING p.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("purchases"),
}
