package importer

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"canopy/rules"
)

// The academy kinds. Their tables keep the source system's ids (BY DEFAULT
// identities, see migrations/000005_listings.up.sql), so the natural key of
// each is that id, and references are by id too: a course names its
// teacher by teacher_id. Every id referred to is checked against the set of
// ids stored, loaded once per run. After the last batch the table's identity
// is moved past the largest id, so that rows added later without an id (by
// canopy itself) do not collide with imported ones.

const (
	teacherIDsSQL = `SELECT id FROM teachers`
	courseIDsSQL  = `SELECT id FROM courses`
	packageIDsSQL = `SELECT id FROM packages`
	kitIDsSQL     = `SELECT id FROM kits`
)

// loadIDs reads a column of ids into a set.
func loadIDs(ctx context.Context, conn *pgx.Conn, sql string) (map[int64]bool, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	ids := map[int64]bool{}
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		ids[id] = true
		return nil
	})
	return ids, err
}

// identityPastMaxSQL moves table's identity past its largest id.
func identityPastMaxSQL(table string) string {
	return `SELECT setval(pg_get_serial_sequence('` + table + `', 'id'), coalesce(max(id), 0) + 1, false) FROM ` + table
}

func idKey(id int64) string { return strconv.FormatInt(id, 10) }

// rate is field i, a commission rate: a decimal from 0 to 1 with at most
// four decimals (numeric(5,4) would round a fifth away silently). It is
// kept as text, for PostgreSQL to read exactly.
func (c *checker) rate(i int) string {
	s, ok := c.value(i)
	if !ok {
		return ""
	}
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	whole, frac, _ := strings.Cut(s, ".")
	if err != nil || v < 0 || v > 1 || len(frac) > 4 || strings.ContainsAny(s, "eE+-") || !isDigits(whole+frac) {
		c.fail(i, "must be a decimal from 0 to 1 with at most 4 decimals, such as 0.15, not %q", s)
	}
	return s
}

var teachersKind = &kind{
	name:    "teachers",
	keyName: "id",
	columns: []column{{"id", true}, {"name", true}, {"commission_rate", true}},
	stage:   []string{"id bigint", "name text", "commission_rate text"},
	upsert: batchSQL(`written AS (
    INSERT INTO teachers AS t (id, name, commission_rate)
    SELECT id, name, commission_rate::numeric FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, commission_rate = excluded.commission_rate
    WHERE (t.name, t.commission_rate) IS DISTINCT FROM (excluded.name, excluded.commission_rate)
    RETURNING t.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("teachers"),
	prepare: func(context.Context, *pgx.Conn) (parser, error) {
		return func(c *checker) ([]any, string, *rejection) {
			id := c.int64(0, 1, math.MaxInt64)
			name := c.str(1, rules.NameMax)
			rate := c.rate(2)
			if c.err != nil {
				return nil, "", nil
			}
			return []any{id, name, rate}, idKey(id), nil
		}, nil
	},
}

var coursesKind = &kind{
	name:    "courses",
	keyName: "id",
	columns: []column{{"id", true}, {"teacher_id", true}, {"title", true}, {"price", true}},
	stage:   []string{"id bigint", "teacher_id bigint", "title text", "price bigint"},
	upsert: batchSQL(`written AS (
    INSERT INTO courses AS c (id, teacher_id, title, price)
    SELECT id, teacher_id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET teacher_id = excluded.teacher_id, title = excluded.title, price = excluded.price
    WHERE (c.teacher_id, c.title, c.price) IS DISTINCT FROM (excluded.teacher_id, excluded.title, excluded.price)
    RETURNING c.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("courses"),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		teachers, err := loadIDs(ctx, conn, teacherIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			id := c.int64(0, 1, math.MaxInt64)
			teacher := c.int64(1, 1, math.MaxInt64)
			title := c.str(2, rules.TitleMax)
			price := c.money(3)
			if c.err != nil {
				return nil, "", nil
			}
			if !teachers[teacher] {
				return nil, "", reject(reasonUnknown, "teacher_id %d names no teacher", teacher)
			}
			return []any{id, teacher, title, price}, idKey(id), nil
		}, nil
	},
}

// packagesKind writes a package and the list of its courses: after the
// import the package has exactly the courses the file lists (course_ids,
// separated by ";" in CSV, an array in NDJSON; empty for none).
var packagesKind = &kind{
	name:    "packages",
	keyName: "id",
	columns: []column{{"id", true}, {"title", true}, {"price", true}, {"course_ids", false}},
	stage:   []string{"id bigint", "title text", "price bigint", "course_ids bigint[]"},
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
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		courses, err := loadIDs(ctx, conn, courseIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			id := c.int64(0, 1, math.MaxInt64)
			title := c.str(1, rules.TitleMax)
			price := c.money(2)
			list := c.ids(3)
			if c.err != nil {
				return nil, "", nil
			}
			for _, course := range list {
				if !courses[course] {
					return nil, "", reject(reasonUnknown, "course_ids: %d names no course", course)
				}
			}
			return []any{id, title, price, list}, idKey(id), nil
		}, nil
	},
}

var kitsKind = &kind{
	name:    "kits",
	keyName: "id",
	columns: []column{{"id", true}, {"course_id", true}, {"title", true}, {"price", true}},
	stage:   []string{"id bigint", "course_id bigint", "title text", "price bigint"},
	upsert: batchSQL(`written AS (
    INSERT INTO kits AS k (id, course_id, title, price)
    SELECT id, course_id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET course_id = excluded.course_id, title = excluded.title, price = excluded.price
    WHERE (k.course_id, k.title, k.price) IS DISTINCT FROM (excluded.course_id, excluded.title, excluded.price)
    RETURNING k.xmax = 0 AS inserted
)`),
	finish: identityPastMaxSQL("kits"),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		courses, err := loadIDs(ctx, conn, courseIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			id := c.int64(0, 1, math.MaxInt64)
			course := c.int64(1, 1, math.MaxInt64)
			title := c.str(2, rules.TitleMax)
			price := c.money(3)
			if c.err != nil {
				return nil, "", nil
			}
			if !courses[course] {
				return nil, "", reject(reasonUnknown, "course_id %d names no course", course)
			}
			return []any{id, course, title, price}, idKey(id), nil
		}, nil
	},
}

const (
	purchaseID = iota
	purchaseProductType
	purchaseProductID
	purchaseBuyer
	purchasePrice
	purchaseRefund
	purchaseStatus
	purchasePurchasedAt
)

// purchasesKind: status may be left empty, and is then what the refund
// says (paid, partially_refunded, refunded); one given must agree with it.
var purchasesKind = &kind{
	name:    "purchases",
	keyName: "id",
	columns: []column{{"id", true}, {"product_type", true}, {"product_id", true}, {"buyer", true},
		{"price", true}, {"refund", false}, {"status", false}, {"purchased_at", true}},
	stage: []string{"id bigint", "product_type text", "product_id bigint", "buyer text", "price bigint",
		"refund bigint", "status text", "purchased_at timestamptz"},
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
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		products := map[string]map[int64]bool{}
		for typ, sql := range map[string]string{"course": courseIDsSQL, "package": packageIDsSQL, "kit": kitIDsSQL} {
			ids, err := loadIDs(ctx, conn, sql)
			if err != nil {
				return nil, err
			}
			products[typ] = ids
		}
		return func(c *checker) ([]any, string, *rejection) {
			id := c.int64(purchaseID, 1, math.MaxInt64)
			typ := c.str(purchaseProductType, 16)
			if _, known := products[typ]; c.err == nil && !known {
				c.fail(purchaseProductType, "must be course, package or kit, not %q", typ)
			}
			product := c.int64(purchaseProductID, 1, math.MaxInt64)
			buyer := c.str(purchaseBuyer, rules.NameMax)
			price := c.money(purchasePrice)
			refund := c.money(purchaseRefund)
			if c.err == nil && refund > price {
				c.fail(purchaseRefund, "must not exceed the price (%d)", price)
			}
			status := "paid"
			switch {
			case refund == price && refund > 0:
				status = "refunded"
			case refund > 0:
				status = "partially_refunded"
			}
			if given := c.text(purchaseStatus, 32); given != nil && c.err == nil && *given != status {
				c.fail(purchaseStatus, "%q disagrees with the refund of %d on a price of %d (that is %s)", *given, refund, price, status)
			}
			at := c.time(purchasePurchasedAt)
			if c.err != nil {
				return nil, "", nil
			}
			if !products[typ][product] {
				return nil, "", reject(reasonUnknown, "product_id %d names no %s", product, typ)
			}
			return []any{id, typ, product, buyer, price, refund, status, at}, idKey(id), nil
		}, nil
	},
}
