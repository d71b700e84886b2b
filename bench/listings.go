package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/queries"
)

// heavyUser receives 600 articles a month; every other user about 41.
const heavyUser = "00000000-0000-4000-8000-000000000000"

// seedArticlesSQL writes n articles over the 12 months of 2024 for 2,000
// users, 7,200 of them to heavyUser, half from a mailing list, with 5,000
// newsletters to find images in.
const seedArticlesSQL = `
INSERT INTO articles (to_user_id, from_name, from_domain, mailing_list, title, is_read, created_at)
SELECT CASE WHEN g <= 7200 THEN '` + heavyUser + `'::uuid
            ELSE ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 1999), 12, '0'))::uuid END,
       'Sender ' || g % 3000,
       'news' || g % 3000 || '.example',
       CASE WHEN g % 2 = 0 THEN 'list-' || g % 4000 END,
       'Article ' || g,
       g % 3 = 0,
       timestamptz '2024-01-01 00:00:00+00' + (random() * 366 * 86400) * interval '1 second'
FROM generate_series($2::int + 1, $2::int + $1::int) g`

const seedNewslettersSQL = `
INSERT INTO newsletters (name, domain, mailing_list, image_url)
SELECT 'Newsletter ' || g,
       CASE WHEN g % 5 <> 0 THEN 'news' || g % 3000 || '.example' END,
       CASE WHEN g % 2 = 0 OR g % 5 = 0 THEN 'list-' || g % 4000 END,
       'https://img.example/' || g || '.png'
FROM generate_series(1, 5000) g`

// originalArticlesSQL is the query the listing started as: a function on the
// indexed column, and an OR join that can match two newsletters per article.
const originalArticlesSQL = `
SELECT a.id, a.from_name, a.from_domain, a.mailing_list, a.title, a.is_read, a.created_at, n.image_url
FROM articles a
LEFT JOIN newsletters n ON n.mailing_list = a.mailing_list OR n.domain = a.from_domain
WHERE a.to_user_id = $1 AND EXTRACT(YEAR FROM a.created_at) = $2 AND EXTRACT(MONTH FROM a.created_at) = $3
ORDER BY a.created_at DESC`

// seedSettlementsSQL: 500 teachers, 5,000 courses, 1,000 packages of 2 to 5
// courses of any teachers, 2,000 kits, and 200,000 purchases in June 2024
// (and 20,000 in May), 5 % of them refunded in part or whole.
var seedSettlementsSQL = []string{
	`INSERT INTO teachers (id, name, commission_rate) SELECT g, 'Teacher ' || g, (10 + g % 21) / 100.0 FROM generate_series(1, 500) g`,
	`INSERT INTO courses (id, teacher_id, title, price) SELECT g, 1 + g % 500, 'Course ' || g, 10000 + (g % 50) * 1000 FROM generate_series(1, 5000) g`,
	`INSERT INTO packages (id, title, price) SELECT g, 'Package ' || g, 50000 + (g % 7) * 3333 FROM generate_series(1, 1000) g`,
	`INSERT INTO package_courses (package_id, course_id)
	 SELECT DISTINCT p, 1 + ((p * 7919 + k * 104729) % 5000) FROM generate_series(1, 1000) p, generate_series(1, 2 + p % 4) k`,
	`INSERT INTO kits (id, course_id, title, price) SELECT g, 1 + (g * 31) % 5000, 'Kit ' || g, 3000 + g % 10 * 500 FROM generate_series(1, 2000) g`,
	`INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at)
	 SELECT t, id, 'buyer' || g, price,
	        CASE WHEN g % 40 = 0 THEN price WHEN g % 40 = 1 THEN price / 2 ELSE 0 END,
	        CASE WHEN g % 40 = 0 THEN 'refunded' WHEN g % 40 = 1 AND price > 1 THEN 'partially_refunded' ELSE 'paid' END,
	        CASE WHEN g <= 200000 THEN timestamptz '2024-06-01 00:00:00+00' ELSE timestamptz '2024-05-01 00:00:00+00' END
	          + ((g * 7) % 2592000) * interval '1 second'
	 FROM (SELECT g, CASE WHEN g % 20 < 12 THEN 'course' WHEN g % 20 < 17 THEN 'package' ELSE 'kit' END AS t FROM generate_series(1, 220000) g) s
	 CROSS JOIN LATERAL (
	   SELECT id, price FROM courses WHERE s.t = 'course' AND id = 1 + (g * 13) % 5000
	   UNION ALL SELECT id, price FROM packages WHERE s.t = 'package' AND id = 1 + (g * 17) % 1000
	   UNION ALL SELECT id, price FROM kits WHERE s.t = 'kit' AND id = 1 + (g * 19) % 2000) prod`,
	// The index a per-teacher loop needs to be selective at all; canopy's
	// statement reads the month through purchases_purchased_at.
	`CREATE INDEX purchases_product ON purchases (product_type, product_id, purchased_at)`,
}

func runListings(e *env) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s._\n\n", e.machine())
	articles, err := e.articlesSection()
	if err != nil {
		return "", err
	}
	b.WriteString(articles)
	settlements, err := e.settlementsSection()
	if err != nil {
		return "", err
	}
	b.WriteString(settlements)
	return b.String(), nil
}

func (e *env) articlesSection() (string, error) {
	sizes := []int{1_000_000, 10_000_000}
	if e.quick {
		sizes = []int{100_000}
	}
	slow := runs{min: 3, max: 20, budget: 10 * time.Second}
	normal := runs{min: 20, max: 500, budget: 5 * time.Second}
	if e.quick {
		slow, normal = runs{2, 3, time.Second}, runs{5, 20, time.Second}
	}
	var t, targets strings.Builder
	t.WriteString("| articles | original, as deployed (no composite index) p50 | original, on today's schema p50 | rows it returns (month has) | GORM month page p50 | GORM p99 | GORM statements | canopy month page p50 | p99 | page of 100 p50 | calendar p50 | statements | month statement in PG p50 | flat SELECT p50 | original (as deployed) ÷ canopy | GORM ÷ canopy |\n")
	t.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	plot := chart{name: "listings", title: "A user's month of articles: latency vs articles stored", xLabel: "articles in the table"}
	june := queries.Month{Year: 2024, Month: time.June}
	stmt, err := statementOf(e.ctx, e.raw.Config().ConnString(), func(q *queries.Store) error {
		_, _, err := q.MonthArticles(e.ctx, queries.ArticlePage{UserID: heavyUser, Month: june, Limit: 1000})
		return err
	})
	if err != nil {
		return "", err
	}
	if _, err := e.raw.Exec(e.ctx, seedNewslettersSQL); err != nil {
		return "", err
	}
	loaded := 0
	for _, n := range sizes {
		fmt.Printf("listings: %d articles\n", n)
		if _, err := e.raw.Exec(e.ctx, seedArticlesSQL, n-loaded, loaded); err != nil {
			return "", err
		}
		loaded = n
		if _, err := e.raw.Exec(e.ctx, `VACUUM ANALYZE articles`); err != nil {
			return "", err
		}
		var month int
		if err := e.raw.QueryRow(e.ctx, `SELECT count(*) FROM articles WHERE to_user_id = $1
			AND created_at >= '2024-06-01' AND created_at < '2024-07-01'`, heavyUser).Scan(&month); err != nil {
			return "", err
		}
		var originalRows int
		original := func() error {
			rows, err := e.raw.Query(e.ctx, originalArticlesSQL, heavyUser, 2024, 6)
			if err != nil {
				return err
			}
			originalRows = 0
			for rows.Next() {
				originalRows++
			}
			rows.Close()
			return rows.Err()
		}
		today, err := measure(slow, nil, original)
		if err != nil {
			return "", err
		}
		// As first deployed: no index leads with the user and the time.
		var asDeployed samples
		err = pgx.BeginFunc(e.ctx, e.raw, func(tx pgx.Tx) error {
			if _, err := tx.Exec(e.ctx, `DROP INDEX articles_user_created`); err != nil {
				return err
			}
			asDeployed, err = measure(slow, nil, func() error {
				rows, err := tx.Query(e.ctx, originalArticlesSQL, heavyUser, 2024, 6)
				if err != nil {
					return err
				}
				for rows.Next() {
				}
				rows.Close()
				return rows.Err()
			})
			if err != nil {
				return err
			}
			return tx.Rollback(e.ctx) // keeps the index
		})
		if err != nil && err != pgx.ErrTxClosed {
			return "", err
		}
		base := e.base + "/api/v1/users/" + heavyUser + "/articles"
		var statements int
		page, err := measure(normal, nil, func() (err error) {
			_, statements, err = e.get(base + "?year=2024&month=6&limit=1000")
			return err
		})
		if err != nil {
			return "", err
		}
		small, err := measure(normal, nil, func() error { _, _, err := e.get(base + "?year=2024&month=6"); return err })
		if err != nil {
			return "", err
		}
		calendar, err := measure(normal, nil, func() error { _, _, err := e.get(base + "/calendar?year=2024&month=6"); return err })
		if err != nil {
			return "", err
		}
		gorm, gormStatements, err := e.peer(normal, "GET", "/users/"+heavyUser+"/articles?year=2024&month=6&limit=1000", nil)
		if err != nil {
			return "", err
		}
		exec, err := executionTimes(e.ctx, e.raw, stmt, 5)
		if err != nil {
			return "", err
		}
		flat, err := measure(normal, nil, func() error {
			return e.flatRead(`SELECT id, from_name, from_domain, mailing_list, title, is_read, created_at FROM articles
				WHERE to_user_id = $1 AND created_at >= $2 AND created_at < $3`, heavyUser, june.Start(), june.End())
		})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&t, "| %d | %s | %s | %d (%d) | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", n, ms(asDeployed.p50()), ms(today.p50()),
			originalRows, month, ms(gorm.p50()), ms(gorm.p99()), stmts(gormStatements), ms(page.p50()), ms(page.p99()), ms(small.p50()), ms(calendar.p50()), statements,
			ms(exec.p50()), ms(flat.p50()), ratio(asDeployed.p50(), page.p50()), ratio(gorm.p50(), page.p50()))
		x := float64(n)
		plot.add("original, as deployed", styleNaive, x, asDeployed.p50())
		plot.add("original, today's schema", styleNaive2, x, today.p50())
		plot.add("GORM", styleGORM, x, gorm.p50())
		plot.add("canopy", styleCanopy, x, page.p50())
		plot.add("statement in PG", styleFloor, x, exec.p50())
		plot.add("flat SELECT", styleFlat, x, flat.p50())
		switch n {
		case 1_000_000:
			targets.WriteString(target("≥ 100× faster than the original at 1M articles", asDeployed.p50() >= 100*page.p50(), ratio(asDeployed.p50(), page.p50())) + "\n")
		case 10_000_000:
			targets.WriteString(target("a month page (the default 100 articles) ≤ 5 ms p50 at 10M articles", small.p50() <= 5*time.Millisecond, ms(small.p50())+" ms") + "\n")
		}
	}
	if err := plot.write(e.charts); err != nil {
		return "", err
	}
	return `### A user's articles for a month

Articles over the 12 months of 2024 for 2,000 users; the heaviest user (measured here, June 2024)
receives 600 a month. 5,000 newsletters. **original**: the listing's first query, ` + "`EXTRACT(YEAR/MONTH FROM created_at)`" + `
and a ` + "`LEFT JOIN newsletters ON mailing_list = … OR domain = …`" + ` (run through pgx, no HTTP), once as it was
deployed (no index leading with user and time: dropped inside a rolled-back transaction) and once on
today's schema. It returns more rows than the month has: the OR join matches two newsletters for some
articles. **canopy**: ` + "`GET /api/v1/users/{id}/articles?year=2024&month=6&limit=1000`" + ` (the whole month in
one page) end to end over HTTP, the default page of 100, and the month's calendar. **GORM**: the same
month page as a GORM user writes it (bench/peers): ` + "`Where(\"to_user_id = ? AND created_at >= ? AND created_at < ?\")" + `
` + "`.Order(\"created_at DESC, id DESC\").Limit(1000).Find(&articles)`" + `, then the images in a second query
(` + "`Where(\"mailing_list IN ?\").Or(\"domain IN ?\")`" + `, the lowest id chosen in Go), as JSON over HTTP.
**month statement in PG**: canopy's own statement (with its image subqueries) under EXPLAIN ANALYZE.
**flat SELECT**: the month's article rows without images, read by pgx: the floor for reading them at all.

` + t.String() + targetList(targets.String()), nil
}

// targetList is the section's list of targets, or nothing when its data
// sizes reach none of them (a -quick run).
func targetList(targets string) string {
	if targets == "" {
		return ""
	}
	return "\nTargets (issue 5):\n\n" + targets
}

// settlementPath is the month every settlement measurement reads.
const settlementPath = "/api/v1/settlements?year=2024&month=6"

func (e *env) settlementsSection() (string, error) {
	fmt.Println("listings: settlements")
	if err := e.seedSettlements(); err != nil {
		return "", err
	}
	slow := runs{min: 2, max: 5, budget: 20 * time.Second}
	normal := runs{min: 10, max: 200, budget: 5 * time.Second}
	fast := runs{min: 50, max: 2000, budget: 3 * time.Second}
	loadFor := 10 * time.Second
	if e.quick {
		slow, normal, fast, loadFor = runs{1, 1, time.Second}, runs{3, 10, time.Second}, runs{20, 100, time.Second}, 3*time.Second
	}
	var loopStatements int
	loop, err := measure(slow, nil, func() (err error) {
		loopStatements, err = e.perTeacherSettlement()
		return err
	})
	if err != nil {
		return "", err
	}
	var coldStatements, warmStatements int
	cold, err := measure(normal, e.bumpSettlements, func() (err error) {
		_, coldStatements, err = e.get(e.base + settlementPath)
		return err
	})
	if err != nil {
		return "", err
	}
	warm, err := measure(fast, nil, func() (err error) {
		_, warmStatements, err = e.get(e.base + settlementPath)
		return err
	})
	if err != nil {
		return "", err
	}
	same, err := e.warmIsCold()
	if err != nil {
		return "", err
	}
	load, err := e.wrkWarmSettlement(loadFor)
	if err != nil {
		return "", err
	}
	perSecond := float64(load.Requests) / (float64(load.DurationUS) / 1e6)
	loadP50 := time.Duration(load.P50US) * time.Microsecond
	var t strings.Builder
	t.WriteString("| | p50 | p99 | statements | req/s at 64 connections (p50 ms) |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(&t, "| per-teacher loop | %s | %s | %d | |\n", ms(loop.p50()), ms(loop.p99()), loopStatements)
	fmt.Fprintf(&t, "| canopy cold (after a write) | %s | %s | %d | |\n", ms(cold.p50()), ms(cold.p99()), coldStatements)
	fmt.Fprintf(&t, "| canopy warm | %s | %s | %d | %.0f (%s) |\n", ms(warm.p50()), ms(warm.p99()), warmStatements, perSecond, ms(loadP50))
	loadOK := load.count(200, 200) == load.Requests && load.socketErrors() == 0
	return `
### Every teacher's settlement for a month

500 teachers, 5,000 courses, 1,000 packages of 2–5 courses (of any teachers), 2,000 kits, 200,000
purchases in June 2024 (and 20,000 in May), 5 % refunded in whole or part. **per-teacher loop**: the
original shape, per teacher a query for its courses, then its course sales, kit sales and the sales
of every package holding one of its courses (one query each, with the index on
` + "`(product_type, product_id, purchased_at)`" + ` that makes them selective), shares split in Go.
**canopy cold**: ` + "`GET " + settlementPath + "`" + ` end to end over HTTP after the settlement version was
bumped (as any write to the academy's tables bumps it): the version, then the month in one statement.
**canopy warm**: the same GET with nothing written since, answered from memory after the version read;
req/s with wrk (2 threads, 64 connections, ` + loadFor.String() + `) against canopy served with its defaults
(a pool of ` + fmt.Sprint(defaultPoolSize) + ` connections), on the same cores as PostgreSQL and the bench.

` + t.String() + "\nTargets (issues 5 and 17):\n\n" +
		target("≥ 50× faster than the per-teacher loop", loop.p50() >= 50*cold.p50(), ratio(loop.p50(), cold.p50())+" cold") + "\n" +
		target("≤ 100 ms p50", cold.p50() <= 100*time.Millisecond, ms(cold.p50())+" ms cold") + "\n" +
		target("settlement warm ≤ 1 ms p50", warm.p50() <= time.Millisecond, ms(warm.p50())+" ms") + "\n" +
		target("≥ 2,000 req/s at 64 connections", perSecond >= 2000 && loadOK,
			fmt.Sprintf("%.0f req/s, %d of %d answered 200, %d socket errors", perSecond, load.count(200, 200), load.Requests, load.socketErrors())) + "\n" +
		target("warm numbers == cold numbers", same, verdict(same, "the warm body is the cold body, byte for byte", "the warm body differs from the cold one")) + "\n", nil
}

// bumpSettlements bumps the settlement version, as any write to the
// academy's tables does: the next settlement read is cold.
func (e *env) bumpSettlements() error {
	_, err := e.raw.Exec(e.ctx, `UPDATE settlement_version SET version = version + 1`)
	return err
}

// warmIsCold reports whether a settlement served from memory is, byte for
// byte, the one computed after a bump of the version.
func (e *env) warmIsCold() (bool, error) {
	body := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(e.ctx, "GET", e.base+settlementPath, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", settlementPath, resp.Status)
		}
		return b, err
	}
	if err := e.bumpSettlements(); err != nil {
		return false, err
	}
	cold, err := body()
	if err != nil {
		return false, err
	}
	warm, err := body()
	return bytes.Equal(cold, warm), err
}

// wrkWarmSettlement runs wrk at 64 connections for d against the warm
// settlement, served as canopy serve serves it with its defaults.
func (e *env) wrkWarmSettlement(d time.Duration) (wrkResult, error) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return wrkResult{}, errors.New("wrk is not installed: run scripts/ensure-wrk.sh (make wrk does)")
	}
	dir, err := os.MkdirTemp(shm(), "canopy-settlement-")
	if err != nil {
		return wrkResult{}, err
	}
	defer os.RemoveAll(dir)
	script, list := filepath.Join(dir, "load.lua"), filepath.Join(dir, "settlements.txt")
	if err := os.WriteFile(script, loadScript, 0o644); err != nil {
		return wrkResult{}, err
	}
	if err := os.WriteFile(list, []byte(settlementPath+"\n"), 0o644); err != nil {
		return wrkResult{}, err
	}
	base, stop, err := e.serveDefaults()
	if err != nil {
		return wrkResult{}, err
	}
	defer stop()
	if _, _, err := e.get(base + settlementPath); err != nil { // warms this server's cache
		return wrkResult{}, err
	}
	fmt.Printf("listings: warm settlement, wrk at 64 connections, %s\n", d)
	return runWrk(wrk, script, base+"/", e.token, loadTarget{name: "settlement", mode: "paths", list: list}, 64, d)
}

// seedSettlements runs seedSettlementsSQL and analyzes what it wrote.
func (e *env) seedSettlements() error {
	for _, stmt := range seedSettlementsSQL {
		if _, err := e.raw.Exec(e.ctx, stmt); err != nil {
			return fmt.Errorf("seed settlements: %w", err)
		}
	}
	_, err := e.raw.Exec(e.ctx, `VACUUM ANALYZE teachers, courses, packages, package_courses, kits, purchases`)
	return err
}

// perTeacherSettlement is the "before": a loop over teachers with queries
// inside. It returns how many statements it ran.
func (e *env) perTeacherSettlement() (int, error) {
	from, to := "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"
	n := 0
	q := func(sql string, args ...any) (pgx.Rows, error) { n++; return e.raw.Query(e.ctx, sql, args...) }
	teachers, err := q(`SELECT id FROM teachers ORDER BY id`)
	if err != nil {
		return n, err
	}
	ids, err := pgx.CollectRows(teachers, pgx.RowTo[int64])
	if err != nil {
		return n, err
	}
	type totals struct{ sales, refunds int64 }
	result := map[int64]*totals{}
	sum := func(sql string, args ...any) (int64, int64, error) {
		var s, r int64
		rows, err := q(sql, args...)
		if err != nil {
			return 0, 0, err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&s, &r); err != nil {
				return 0, 0, err
			}
		}
		return s, r, rows.Err()
	}
	for _, id := range ids {
		rows, err := q(`SELECT id FROM courses WHERE teacher_id = $1`, id)
		if err != nil {
			return n, err
		}
		courses, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return n, err
		}
		t := &totals{}
		result[id] = t
		s, r, err := sum(`SELECT coalesce(sum(price), 0), coalesce(sum(refund), 0) FROM purchases
			WHERE product_type = 'course' AND product_id = ANY($1) AND purchased_at >= $2 AND purchased_at < $3`, courses, from, to)
		if err != nil {
			return n, err
		}
		t.sales, t.refunds = t.sales+s, t.refunds+r
		s, r, err = sum(`SELECT coalesce(sum(p.price), 0), coalesce(sum(p.refund), 0) FROM purchases p JOIN kits k ON k.id = p.product_id
			WHERE p.product_type = 'kit' AND k.course_id = ANY($1) AND p.purchased_at >= $2 AND p.purchased_at < $3`, courses, from, to)
		if err != nil {
			return n, err
		}
		t.sales, t.refunds = t.sales+s, t.refunds+r
		pkgs, err := q(`SELECT DISTINCT package_id FROM package_courses WHERE course_id = ANY($1)`, courses)
		if err != nil {
			return n, err
		}
		packages, err := pgx.CollectRows(pkgs, pgx.RowTo[int64])
		if err != nil {
			return n, err
		}
		for _, p := range packages {
			var k, mine int64
			var lowest bool
			if err := e.raw.QueryRow(e.ctx, `SELECT count(*), count(*) FILTER (WHERE course_id = ANY($2)),
				min(course_id) = ANY($2) FROM package_courses WHERE package_id = $1`, p, courses).Scan(&k, &mine, &lowest); err != nil {
				return n, err
			}
			n++
			rows, err := q(`SELECT price, refund FROM purchases WHERE product_type = 'package' AND product_id = $1
				AND purchased_at >= $2 AND purchased_at < $3`, p, from, to)
			if err != nil {
				return n, err
			}
			for rows.Next() {
				var price, refund int64
				if err := rows.Scan(&price, &refund); err != nil {
					rows.Close()
					return n, err
				}
				t.sales += mine*(price/k) + map[bool]int64{true: price % k}[lowest]
				t.refunds += mine*(refund/k) + map[bool]int64{true: refund % k}[lowest]
			}
			rows.Close()
		}
	}
	return n, nil
}
