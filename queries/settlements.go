package queries

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5/pgconn"
)

// Amounts are a settlement's money, in won. Gross is sales less refunds,
// Commission is Gross times the commission rate rounded half up (toward
// positive infinity: floor(x + 0.5), so -0.5 rounds to 0 and 0.5 to 1),
// and Payout is Gross less Commission.
type Amounts struct {
	CourseSales  int64
	PackageSales int64
	KitSales     int64
	Refunds      int64
	Gross        int64
	Commission   int64
	Payout       int64
}

// add adds b to a; false if a sum overflows int64 either way (a gross and
// a payout may be negative).
func (a *Amounts) add(b Amounts) bool {
	ok := true
	for _, p := range []struct {
		sum *int64
		v   int64
	}{
		{&a.CourseSales, b.CourseSales}, {&a.PackageSales, b.PackageSales}, {&a.KitSales, b.KitSales},
		{&a.Refunds, b.Refunds}, {&a.Gross, b.Gross}, {&a.Commission, b.Commission}, {&a.Payout, b.Payout},
	} {
		sum := *p.sum + p.v
		if (p.v > 0 && sum < *p.sum) || (p.v < 0 && sum > *p.sum) {
			ok = false
		}
		*p.sum = sum
	}
	return ok
}

// errSettlementTooLarge is a month whose amounts, a teacher's or the totals,
// pass what a bigint (and a JSON client's int64) holds: prices up to that
// maximum are stored, but a month of them cannot be added up.
var errSettlementTooLarge = invalidField("month", fmt.Sprintf("its amounts pass %d, the largest amount canopy can report", int64(math.MaxInt64)))

// TeacherSettlement is one teacher's share of a month's sales.
type TeacherSettlement struct {
	TeacherID      int64
	TeacherName    string
	CommissionRate float64 // for display; the arithmetic uses the exact numeric
	Amounts
}

// Settlement is a month's settlement: every teacher, by id, and the totals,
// which are the sums of the teachers' amounts (commission included, so the
// totals agree with the rows rather than rounding the total gross again).
type Settlement struct {
	Teachers []TeacherSettlement
	Totals   Amounts
	// Version is the settlement version the numbers were read at, from the
	// same snapshot; 0 when there are no teachers, the statement then
	// returning no row to read it from.
	Version int64
}

const settlementVersionSQL = `SELECT version FROM settlement_version`

// SettlementVersion is the version of every settlement, which changes in the
// same transaction as any write to the tables a settlement reads (see
// migrations/000012_settlement_version.up.sql).
func (s *Store) SettlementVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRow(ctx, settlementVersionSQL).Scan(&v)
	return v, translate(err)
}

// settlementSQL settles a month in one statement.
//
// sold groups the month's purchases (a range on purchased_at) by product,
// price and refund: purchases alike split alike, so each group is split once
// and multiplied by its count. A course sale goes to the course's teacher, a
// kit sale to its course's teacher. A package sale and its refund are each
// split evenly among the package's courses, and the remainder of the integer
// division goes to the course with the lowest id, so the shares add up
// exactly to the sale; a package with no courses credits no one. The
// arithmetic is bigint and numeric: exact, with the commission rounded by
// floor(gross * rate + 0.5). Teachers with no sales get zeros. Each row
// carries the settlement version, read in the statement's own snapshot, so
// that the numbers are never cached under a version they do not belong to.
const settlementSQL = `
WITH sold AS (
    SELECT p.product_type, p.product_id, p.price, p.refund, count(*) AS n
    FROM purchases p
    WHERE p.purchased_at >= $1 AND p.purchased_at < $2
    GROUP BY p.product_type, p.product_id, p.price, p.refund
),
package_shares AS (
    SELECT pc.package_id, pc.course_id,
           count(*) OVER (PARTITION BY pc.package_id) AS courses,
           row_number() OVER (PARTITION BY pc.package_id ORDER BY pc.course_id) AS nth
    FROM package_courses pc
    WHERE pc.package_id IN (SELECT s.product_id FROM sold s WHERE s.product_type = 'package')
),
credits (teacher_id, course_sales, package_sales, kit_sales, refunds) AS (
    SELECT c.teacher_id, s.n * s.price, 0, 0, s.n * s.refund
    FROM sold s JOIN courses c ON c.id = s.product_id
    WHERE s.product_type = 'course'
    UNION ALL
    SELECT c.teacher_id, 0,
           s.n * (s.price / ps.courses + CASE WHEN ps.nth = 1 THEN s.price % ps.courses ELSE 0 END),
           0,
           s.n * (s.refund / ps.courses + CASE WHEN ps.nth = 1 THEN s.refund % ps.courses ELSE 0 END)
    FROM sold s
    JOIN package_shares ps ON ps.package_id = s.product_id
    JOIN courses c ON c.id = ps.course_id
    WHERE s.product_type = 'package'
    UNION ALL
    SELECT c.teacher_id, 0, 0, s.n * s.price, s.n * s.refund
    FROM sold s JOIN kits k ON k.id = s.product_id JOIN courses c ON c.id = k.course_id
    WHERE s.product_type = 'kit'
),
by_teacher AS (
    SELECT teacher_id,
           sum(course_sales)::bigint AS course_sales,
           sum(package_sales)::bigint AS package_sales,
           sum(kit_sales)::bigint AS kit_sales,
           sum(refunds)::bigint AS refunds
    FROM credits
    GROUP BY teacher_id
),
settled AS (
    SELECT t.id, t.name, t.commission_rate,
           coalesce(b.course_sales, 0) AS course_sales,
           coalesce(b.package_sales, 0) AS package_sales,
           coalesce(b.kit_sales, 0) AS kit_sales,
           coalesce(b.refunds, 0) AS refunds,
           coalesce(b.course_sales + b.package_sales + b.kit_sales - b.refunds, 0) AS gross
    FROM teachers t LEFT JOIN by_teacher b ON b.teacher_id = t.id
)
SELECT (SELECT version FROM settlement_version), s.id, s.name, s.commission_rate::float8,
       s.course_sales, s.package_sales, s.kit_sales, s.refunds, s.gross,
       r.commission, s.gross - r.commission
FROM settled s
CROSS JOIN LATERAL (SELECT floor(s.gross * s.commission_rate + 0.5)::bigint AS commission) r
ORDER BY s.id`

// MonthSettlement settles a month for every teacher in one statement,
// whatever the number of teachers and purchases, and says at which version.
func (s *Store) MonthSettlement(ctx context.Context, m Month) (Settlement, error) {
	fail := func(err error) (Settlement, error) {
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "22003" { // numeric_value_out_of_range
			return Settlement{}, errSettlementTooLarge
		}
		return Settlement{}, translate(err)
	}
	rows, err := s.db.Query(ctx, settlementSQL, m.Start(), m.End())
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	out := Settlement{Teachers: []TeacherSettlement{}}
	for rows.Next() {
		var t TeacherSettlement
		if err := rows.Scan(&out.Version, &t.TeacherID, &t.TeacherName, &t.CommissionRate,
			&t.CourseSales, &t.PackageSales, &t.KitSales, &t.Refunds, &t.Gross, &t.Commission, &t.Payout); err != nil {
			return fail(err)
		}
		out.Teachers = append(out.Teachers, t)
		if !out.Totals.add(t.Amounts) {
			return Settlement{}, errSettlementTooLarge
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}
