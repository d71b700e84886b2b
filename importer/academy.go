package importer

import (
	"context"
	"math"
	"strconv"
	"strings"

	"canopy/queries"
	"canopy/rules"
)

// The academy kinds. Their tables keep the source system's ids, so the
// natural key of each is that id, and references are by id too: a course
// names its teacher by teacher_id. Every id referred to is checked against
// the set of ids stored, loaded once per run (see queries/academy.go).

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
	columns: []column{
		{name: "id", required: true}, {name: "name", required: true},
		{name: "commission_rate", required: true},
	},
	write: queries.ImportTeachers,
	prepare: func(context.Context, *queries.Import) (parser, error) {
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

// A course is priced under its teacher, a kit under its course.
var (
	coursesKind = pricedKind("courses", "teacher_id", "teacher", queries.ImportCourses, (*queries.Import).TeacherIDs)
	kitsKind    = pricedKind("kits", "course_id", "course", queries.ImportKits, (*queries.Import).CourseIDs)
)

// pricedKind is a kind of priced item that belongs to a row of another
// kind by id: columns id, ref, title and price.
func pricedKind(name, ref, refNoun string, write *queries.FlatImport, refIDs func(*queries.Import, context.Context) (map[int64]bool, error)) *kind {
	return &kind{
		name:    name,
		keyName: "id",
		columns: []column{
			{name: "id", required: true}, {name: ref, required: true}, {name: "title", required: true},
			{name: "price", required: true},
		},
		write: write,
		prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
			known, err := refIDs(session, ctx)
			if err != nil {
				return nil, err
			}
			return func(c *checker) ([]any, string, *rejection) {
				id := c.int64(0, 1, math.MaxInt64)
				owner := c.int64(1, 1, math.MaxInt64)
				title := c.str(2, rules.TitleMax)
				price := c.money(3)
				if c.err != nil {
					return nil, "", nil
				}
				if !known[owner] {
					return nil, "", reject(reasonUnknown, "%s %d names no %s", ref, owner, refNoun)
				}
				return []any{id, owner, title, price}, idKey(id), nil
			}, nil
		},
	}
}

// packagesKind writes a package and the list of its courses: after the
// import the package has exactly the courses the file lists (course_ids,
// separated by ";" in CSV, an array in NDJSON; empty for none).
var packagesKind = &kind{
	name:    "packages",
	keyName: "id",
	columns: []column{
		{name: "id", required: true}, {name: "title", required: true}, {name: "price", required: true},
		{name: "course_ids", list: true},
	},
	write: queries.ImportPackages,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		courses, err := session.CourseIDs(ctx)
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
	columns: []column{
		{name: "id", required: true}, {name: "product_type", required: true},
		{name: "product_id", required: true}, {name: "buyer", required: true},
		{name: "price", required: true}, {name: "refund"}, {name: "status"},
		{name: "purchased_at", required: true},
	},
	write: queries.ImportPurchases,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		products := map[string]map[int64]bool{}
		for typ, load := range map[string]func(context.Context) (map[int64]bool, error){
			"course": session.CourseIDs, "package": session.PackageIDs, "kit": session.KitIDs,
		} {
			ids, err := load(ctx)
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
