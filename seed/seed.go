// Package seed generates deterministic synthetic data for every table and
// writes it through the importer's own path (importer.ImportRows: the same
// validation, COPY and batch statements as `canopy import`), so seeding is
// also a test of the import.
//
// The same Options (profile, scale, seed and Now) always give the same rows:
// every attribute of every row is a hash of the seed and the row's index,
// so a row can be generated without the rows before it and nothing is held
// in memory but a few small lists (wards, user ids).
//
// Profiles:
//   - demo: a shop's category forest of a few hundred real names; a
//     hospital's departments and wards, 400 patients with vital signs every
//     two hours over the last three days and risk predictions, with alarm
//     rules for both targets, so that some patients have alarms open; 30
//     newsletters and about 3,000 articles over twelve months for 5 users;
//     an academy of 20 teachers, 100 courses, packages, kits and 1,500
//     purchases over three months. Loads in a second or two.
//   - bench: at Scale 1, 1,000,000 articles over the 12 full months before
//     Now for 2,000 users (the heaviest receives about 600 a month),
//     200,000 purchases in the month before Now for 500 teachers and 5,000
//     courses, 100,000 patients with 1,000,000 observations, 5,000
//     categories. Every size but the newsletters' scales with Scale.
package seed

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"time"

	"canopy/importer"
	"canopy/queries"
)

// Options says what to generate.
type Options struct {
	// Profile is "demo" (the default) or "bench".
	Profile string
	// Scale multiplies the profile's sizes; 0 means 1.
	Scale float64
	// Seed chooses the data: the same seed gives the same rows.
	Seed uint64
	// Now is where the generated time ranges end; zero means the current
	// hour. Pass a fixed time for data that does not change from run to run.
	Now time.Time
	// Batch, Progress and ProgressTTY are passed to the importer.
	Batch       int
	Progress    io.Writer
	ProgressTTY bool
}

// Result is what Run wrote.
type Result struct {
	Summaries []importer.Summary
	// Users are the ids of the users the articles were sent to, the
	// heaviest reader first (at most 10).
	Users []string
}

// Run generates every table and imports it, references first.
func Run(ctx context.Context, db *queries.DB, opts Options) (Result, error) {
	p, err := newPlan(opts)
	if err != nil {
		return Result{}, err
	}
	for _, r := range p.size.alarmRules {
		if err := db.PutAlarmRule(ctx, r); err != nil {
			return Result{}, fmt.Errorf("seed: alarm rule: %w", err)
		}
	}
	var res Result
	for _, t := range p.tables() {
		next, stop := iter.Pull(t.rows)
		var rejects bytes.Buffer
		sum, err := importer.ImportRows(ctx, db, t.kind, t.columns, func() ([]string, error) {
			row, ok := next()
			if !ok {
				return nil, io.EOF
			}
			return row, nil
		}, importer.Options{Total: t.total, Batch: opts.Batch, Rejects: &limitedWriter{w: &rejects, left: 4096},
			Progress: opts.Progress, ProgressTTY: opts.ProgressTTY})
		stop()
		res.Summaries = append(res.Summaries, sum)
		if err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		if sum.Rejected > 0 {
			// A generator bug: the seed should never make a row the import refuses.
			return res, fmt.Errorf("seed: %d %s rows rejected:\n%s", sum.Rejected, t.kind, rejects.String())
		}
	}
	res.Users = p.users[:min(len(p.users), 10)]
	return res, nil
}

// WriteCSV writes every table's rows to dir as KIND.csv, files that
// `canopy import KIND` reads back, and returns their paths in import order.
func WriteCSV(dir string, opts Options) ([]string, error) {
	p, err := newPlan(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, t := range p.tables() {
		path := filepath.Join(dir, t.kind+".csv")
		if err := writeCSV(path, t); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeCSV(path string, t table) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(t.columns)
	for row := range t.rows {
		w.Write(row)
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}

// limitedWriter keeps the first left bytes written to it.
type limitedWriter struct {
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.left > 0 {
		n := min(len(p), l.left)
		l.w.Write(p[:n])
		l.left -= n
	}
	return len(p), nil
}

// table is one kind's generated rows, with the CSV file conventions.
type table struct {
	kind    string
	columns []string
	total   int64 // for the progress ETA; may be an estimate
	rows    iter.Seq[[]string]
}

// sizes are a profile's numbers of rows.
type sizes struct {
	categories, departments, wardsPerDepartment int
	patients                                    int
	inpatientPercent                            int
	vitalsEvery, vitalsWindow                   time.Duration
	observations, predictions                   int // at most; 0: every inpatient's whole window
	newsletters, users, articles, heaviest      int // articles over 12 months; heaviest a month
	fullMonths                                  bool
	teachers, courses, packages, kits           int
	purchases, purchaseMonths                   int
	// alarmRules go in before the predictions, whose import then opens and
	// resolves alarms as the API's batches do.
	alarmRules []queries.AlarmRule
}

func profileSizes(profile string, scale float64) (sizes, error) {
	n := func(base int) int { return max(1, int(math.Round(float64(base)*scale))) }
	switch profile {
	case "", "demo":
		return sizes{
			categories: n(len(parseTaxonomy())), departments: n(len(parseDepartments())), wardsPerDepartment: 3,
			patients: n(400), inpatientPercent: 70, vitalsEvery: 2 * time.Hour, vitalsWindow: 72 * time.Hour,
			newsletters: n(30), users: n(5), articles: n(3000), heaviest: 120,
			teachers: n(20), courses: n(100), packages: n(15), kits: n(40), purchases: n(1500), purchaseMonths: 3,
			alarmRules: []queries.AlarmRule{{Target: "sepsis", OpenAt: 0.8, ClearBelow: 0.4}, {Target: "icu_transfer", OpenAt: 0.85, ClearBelow: 0.5}},
		}, nil
	case "bench":
		return sizes{
			categories: n(5000), departments: n(200), wardsPerDepartment: 6,
			patients: n(100_000), inpatientPercent: 70, vitalsEvery: time.Hour, vitalsWindow: 24 * time.Hour,
			observations: n(1_000_000), predictions: n(100_000),
			newsletters: 500, users: n(2000), articles: n(1_000_000), heaviest: 600, fullMonths: true,
			teachers: n(500), courses: n(5000), packages: n(500), kits: n(1000), purchases: n(200_000), purchaseMonths: 1,
		}, nil
	}
	return sizes{}, fmt.Errorf("seed: profile %q: demo or bench", profile)
}
