// Command peers serves canopy's benchmark endpoints written with GORM, the way
// GORM's documentation suggests, so that the bench (go run ./bench) can time
// them side by side with canopy: over the same HTTP client, on the same
// database and data, in the same run. It lives in its own module so that
// canopy itself never depends on an ORM.
//
//	go run . -dsn postgres://...   # prints {"addr": "127.0.0.1:PORT"}, then serves
//
// Each response carries Server-Timing: db;desc="N queries", the statements
// GORM ran for it, as canopy's own responses do.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Category maps categories; Children is the self-referential has-many that
// GORM preloads one level per query.
type Category struct {
	ID        int64      `json:"id"`
	ParentID  *int64     `json:"parent_id"`
	Name      string     `json:"name"`
	Position  int32      `json:"position"`
	CreatedAt time.Time  `json:"-"`
	UpdatedAt time.Time  `json:"-"`
	Children  []Category `gorm:"foreignKey:ParentID" json:"children"`
}

// Patient maps patients and is also the feed record, bound from the same
// JSON body canopy receives: a field absent from a record is nil here.
type Patient struct {
	ID           int64      `json:"-"`
	UID          string     `json:"uid"`
	Name         *string    `json:"name"`
	Sex          *string    `json:"sex"`
	BirthDate    *string    `gorm:"type:date" json:"birth_date"`
	WardID       *int64     `json:"ward_id"`
	AdmittedAt   *time.Time `json:"admitted_at"`
	DischargedAt *time.Time `json:"discharged_at"`
	DiedAt       *time.Time `json:"died_at"`
	CreatedAt    time.Time  `json:"-"`
	UpdatedAt    time.Time  `json:"-"`
}

// Article maps articles; ImageURL is filled from newsletters afterwards.
type Article struct {
	ID          string    `json:"id"`
	ToUserID    string    `json:"to_user_id"`
	FromName    string    `json:"from_name"`
	FromDomain  string    `json:"from_domain"`
	MailingList *string   `json:"mailing_list"`
	Title       string    `json:"title"`
	IsRead      bool      `json:"is_read"`
	CreatedAt   time.Time `json:"created_at"`
	ImageURL    *string   `gorm:"-" json:"image_url"`
}

// Newsletter maps newsletters.
type Newsletter struct {
	ID          int64
	Domain      *string
	MailingList *string
	ImageURL    string
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL URL of the bench database")
	addr := flag.String("addr", "127.0.0.1:0", "address to serve on")
	flag.Parse()
	if err := run(*dsn, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(dsn, addr string) error {
	// CreateBatchSize is what GORM's docs give for large slices: one INSERT
	// of a 10,000-record batch would pass PostgreSQL's 65,535 parameters.
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: counter{}, CreateBatchSize: 1000})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /categories/tree", handle(db, tree))
	mux.Handle("POST /patients/bulk", handle(db, upsertPatients))
	mux.Handle("GET /users/{id}/articles", handle(db, monthArticles))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{"addr": ln.Addr().String()}); err != nil {
		return err
	}
	return http.Serve(ln, mux)
}

// handle runs h with a GORM session bound to the request, answers its result
// as JSON with the statement count in Server-Timing, or a 500 with the error.
func handle(db *gorm.DB, h func(*gorm.DB, *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var statements atomic.Int64
		ctx := context.WithValue(r.Context(), statementsKey{}, &statements)
		out, err := h(db.WithContext(ctx), r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server-Timing", fmt.Sprintf(`db;desc="%d queries"`, statements.Load()))
		json.NewEncoder(w).Encode(out)
	})
}

// tree reads the whole forest with a self-referential Preload nested as deep
// as ?depth= levels (the roots are level 1), each level in sibling order.
func tree(db *gorm.DB, r *http.Request) (any, error) {
	depth, err := strconv.Atoi(r.URL.Query().Get("depth"))
	if err != nil {
		return nil, fmt.Errorf("depth: %w", err)
	}
	ordered := func(db *gorm.DB) *gorm.DB { return db.Order("position, name, id") }
	q := db.Where("parent_id IS NULL").Order("position, name, id")
	for level := 1; level < depth; level++ {
		q = q.Preload(strings.TrimSuffix(strings.Repeat("Children.", level), "."), ordered)
	}
	var roots []Category
	if err := q.Find(&roots).Error; err != nil {
		return nil, err
	}
	return map[string]any{"roots": roots}, nil
}

// upsertPatients writes a feed batch with ON CONFLICT (uid) DO UPDATE of
// every column (UpdateAll), as GORM's docs show for upserts: a column a
// record left out is written as null over what was stored.
func upsertPatients(db *gorm.DB, r *http.Request) (any, error) {
	var batch []Patient
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		return nil, err
	}
	err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "uid"}}, UpdateAll: true}).Create(&batch).Error
	return map[string]int{"received": len(batch)}, err
}

// monthArticles reads a user's articles of ?year=&month= (UTC), newest
// first, up to ?limit=, then their images in a second query: the newsletter
// of the article's mailing list, else of its sender domain, the lowest id
// winning.
func monthArticles(db *gorm.DB, r *http.Request) (any, error) {
	q := r.URL.Query()
	year, errY := strconv.Atoi(q.Get("year"))
	month, errM := strconv.Atoi(q.Get("month"))
	limit, errL := strconv.Atoi(q.Get("limit"))
	if errY != nil || errM != nil || errL != nil {
		return nil, fmt.Errorf("year, month and limit must be numbers")
	}
	start := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
	var articles []Article
	err := db.Where("to_user_id = ? AND created_at >= ? AND created_at < ?", r.PathValue("id"), start, start.AddDate(0, 1, 0)).
		Order("created_at DESC, id DESC").Limit(limit).Find(&articles).Error
	if err != nil {
		return nil, err
	}
	var lists, domains []string
	for _, a := range articles {
		if a.MailingList != nil {
			lists = append(lists, *a.MailingList)
		}
		domains = append(domains, a.FromDomain)
	}
	var newsletters []Newsletter
	if err := db.Where("mailing_list IN ?", lists).Or("domain IN ?", domains).Order("id").Find(&newsletters).Error; err != nil {
		return nil, err
	}
	byList, byDomain := map[string]*string{}, map[string]*string{}
	for _, n := range newsletters {
		if n.MailingList != nil && byList[*n.MailingList] == nil {
			byList[*n.MailingList] = &n.ImageURL
		}
		if n.Domain != nil && byDomain[*n.Domain] == nil {
			byDomain[*n.Domain] = &n.ImageURL
		}
	}
	for i, a := range articles {
		if a.MailingList != nil {
			articles[i].ImageURL = byList[*a.MailingList]
		}
		if articles[i].ImageURL == nil {
			articles[i].ImageURL = byDomain[a.FromDomain]
		}
	}
	return map[string]any{"articles": articles}, nil
}

type statementsKey struct{}

// counter is a silent GORM logger that counts the statements of a request.
type counter struct{}

func (c counter) LogMode(logger.LogLevel) logger.Interface { return c }
func (counter) Info(context.Context, string, ...any)       {}
func (counter) Warn(context.Context, string, ...any)       {}
func (counter) Error(context.Context, string, ...any)      {}
func (counter) Trace(ctx context.Context, _ time.Time, _ func() (string, int64), _ error) {
	if n, ok := ctx.Value(statementsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
