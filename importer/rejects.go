package importer

import (
	"encoding/csv"
	"io"
	"strconv"
	"sync"
)

// rejects writes the rejected rows as CSV: the line the record starts on,
// the reason, then the record as read (the CSV fields, so that the file less
// its first two columns imports again once fixed; or the NDJSON line). The
// header row is written with the first reject. Safe for concurrent use.
type rejects struct {
	mu      sync.Mutex
	w       *csv.Writer // nil: rejects are only counted
	columns []string
	n       int64
	err     error
}

func newRejects(w io.Writer, columns []string) *rejects {
	r := &rejects{columns: columns}
	if w != nil {
		r.w = csv.NewWriter(w)
	}
	return r
}

func (r *rejects) add(line int64, why error, original []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.w == nil || r.err != nil {
		return
	}
	if r.n == 1 {
		r.err = r.w.Write(append([]string{"line", "reason"}, r.columns...))
	}
	row := make([]string, 0, 2+len(original))
	row = append(row, strconv.FormatInt(line, 10), why.Error())
	if r.err == nil {
		r.err = r.w.Write(append(row, original...))
	}
}

func (r *rejects) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// flush writes out what is buffered and reports the first write error.
func (r *rejects) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return nil
	}
	r.w.Flush()
	if r.err == nil {
		r.err = r.w.Error()
	}
	return r.err
}
