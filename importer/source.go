package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"canopy/optional"
	"canopy/rules"
)

// nullCell is the CSV cell that means null ("clear the stored value"), as in
// PostgreSQL's own COPY text format. An empty cell means absent.
const nullCell = `\N`

// cell reads a CSV cell by the file conventions: empty is absent, \N is null.
func cell(s string) optional.Field[string] {
	switch s {
	case "":
		return optional.Field[string]{}
	case nullCell:
		return optional.Null[string]()
	}
	return optional.Of(s)
}

// record is one input record: its fields in the kind's column order, the
// record as read (for the rejects file), and, for a record that could not
// be read into fields, why.
type record struct {
	line     int64
	fields   []optional.Field[string]
	original []string
	err      error
}

// source yields the records of one input, bound to a kind's columns.
type source interface {
	// next returns the next record, or io.EOF after the last. Any other
	// error ends the import; a record that cannot be read carries its own err.
	next() (record, error)
	// progress is how far the input has been read and its whole size, in
	// bytes or in records; total is 0 when unknown.
	progress() (done, total int64)
	// rejectColumns names the columns of a record's original in the rejects file.
	rejectColumns() []string
}

// column is one field of a kind's records. A list column's value is a list
// of values separated by ";": in NDJSON, the only kind of column that takes
// an array.
type column struct {
	name     string
	required bool
	list     bool
}

func columnNames(cols []column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// bindHeader maps the columns of a header to the kind's columns: at[i] is the
// kind column of header column i. An unknown column or a missing required
// one is an error: every record would be rejected for it.
func bindHeader(header []string, cols []column) ([]int, error) {
	at := make([]int, len(header))
	seen := make([]bool, len(cols))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a byte order mark some exporters write
		}
		j := slices.IndexFunc(cols, func(c column) bool { return c.name == name })
		switch {
		case j < 0:
			return nil, fmt.Errorf("unknown column %q (the columns are %s)", h, strings.Join(columnNames(cols), ", "))
		case seen[j]:
			return nil, fmt.Errorf("column %q appears twice", name)
		}
		seen[j], at[i] = true, j
	}
	var missing []string
	for j, c := range cols {
		if c.required && !seen[j] {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing required column(s) %s", strings.Join(missing, ", "))
	}
	return at, nil
}

// countingReader counts the bytes read through it, for the progress ETA.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// csvSource reads a CSV file with a header row.
type csvSource struct {
	in     *countingReader
	size   int64
	r      *csv.Reader
	header []string
	at     []int
	width  int
}

func newCSVSource(r io.Reader, size int64, cols []column) (*csvSource, error) {
	in := &countingReader{r: r}
	cr := csv.NewReader(bufio.NewReaderSize(in, 256<<10))
	cr.FieldsPerRecord = -1 // checked per record, so that one short row is a reject, not the end
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: a CSV file starts with a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	header = slices.Clone(header)
	at, err := bindHeader(header, cols)
	if err != nil {
		return nil, err
	}
	return &csvSource{in: in, size: size, r: cr, header: header, at: at, width: len(cols)}, nil
}

func (s *csvSource) next() (record, error) {
	fields, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return record{}, io.EOF
	}
	var parseErr *csv.ParseError
	if err != nil && !errors.As(err, &parseErr) {
		return record{}, err
	}
	if err != nil {
		// A malformed quote: the reader has skipped the record and goes on.
		// FieldPos would panic here: a record cut short by a quote that never
		// closes has no fields.
		return record{line: int64(parseErr.StartLine), original: fields,
			err: reject(reasonMalformed, "%v", parseErr.Err)}, nil
	}
	line, _ := s.r.FieldPos(0)
	rec := record{line: int64(line), original: fields}
	if len(fields) != len(s.header) {
		rec.err = reject(reasonMalformed, "%d fields, the header has %d", len(fields), len(s.header))
		return rec, nil
	}
	rec.fields = make([]optional.Field[string], s.width)
	for i, v := range fields {
		rec.fields[s.at[i]] = cell(v)
	}
	return rec, nil
}

func (s *csvSource) progress() (int64, int64) { return s.in.n, s.size }
func (s *csvSource) rejectColumns() []string  { return s.header }

// ndjsonSource reads one JSON object per line. A member that is missing is
// absent, one that is null is null; strings, numbers and booleans are values;
// an array, for a list column only (a package's course ids), is its elements
// joined by ";".
type ndjsonSource struct {
	in   *countingReader
	size int64
	r    *bufio.Reader
	cols []column
	line int64
}

func newNDJSONSource(r io.Reader, size int64, cols []column) *ndjsonSource {
	in := &countingReader{r: r}
	return &ndjsonSource{in: in, size: size, r: bufio.NewReaderSize(in, 256<<10), cols: cols}
}

func (s *ndjsonSource) next() (record, error) {
	for {
		raw, err := s.r.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			return record{}, err // io.EOF at the end
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return record{}, err
		}
		s.line++
		text := bytes.TrimSpace(raw)
		if len(text) == 0 {
			continue
		}
		rec := record{line: s.line, original: []string{string(text)}}
		rec.fields, rec.err = s.decode(text)
		return rec, nil
	}
}

func (s *ndjsonSource) decode(text []byte) ([]optional.Field[string], error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(text, &members); err != nil {
		return nil, reject(reasonMalformed, "not a JSON object: %v", err)
	}
	fields := make([]optional.Field[string], len(s.cols))
	for name, raw := range members {
		j := slices.IndexFunc(s.cols, func(c column) bool { return c.name == name })
		if j < 0 {
			return nil, reject(reasonBadValue, "unknown field %q", name)
		}
		f, err := jsonField(raw, s.cols[j].list)
		if err != nil {
			return nil, reject(reasonBadValue, "%s: %v", name, err)
		}
		fields[j] = f
	}
	return fields, nil
}

// jsonField reads one member's value as the text of a CSV cell. Only a
// list column takes an array (of numbers or strings): its elements joined
// by ";". Elsewhere an array is refused, as the API refuses it, and never
// read as text ([] as a blank, ["x"] as x).
func jsonField(raw json.RawMessage, list bool) (optional.Field[string], error) {
	switch raw[0] {
	case 'n':
		return optional.Null[string](), nil
	case '"':
		// encoding/json would read bytes that are not UTF-8, and half a
		// surrogate pair escaped alone, as U+FFFD: refused, as CSV text and
		// the API refuse them.
		switch {
		case !utf8.Valid(raw):
			return optional.Field[string]{}, rules.ErrNotUTF8
		case rules.LoneSurrogate(raw):
			return optional.Field[string]{}, errLoneSurrogate
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return optional.Of(s), err
	case '[':
		if !list {
			return optional.Field[string]{}, errors.New("must be a string or a number, not JSON array")
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return optional.Field[string]{}, err
		}
		parts := make([]string, len(items))
		for i, item := range items {
			f, err := jsonField(item, false)
			if err != nil || !f.Present() {
				return optional.Field[string]{}, errors.New("an array holds only numbers or strings")
			}
			parts[i] = f.Value
		}
		return optional.Of(strings.Join(parts, ";")), nil
	case '{':
		return optional.Field[string]{}, errors.New("an object is not a value here")
	}
	return optional.Of(string(raw)), nil // a number, true or false
}

// errLoneSurrogate is why a JSON string that escapes half a surrogate pair
// alone is refused: it is no character, so the text is not UTF-8.
var errLoneSurrogate = fmt.Errorf("%w: it escapes half of a UTF-16 surrogate pair (\\uD800 to \\uDFFF) without its other half", rules.ErrNotUTF8)

func (s *ndjsonSource) progress() (int64, int64) { return s.in.n, s.size }
func (s *ndjsonSource) rejectColumns() []string  { return []string{"record"} }

// rowSource yields records that a program generates, cell by cell with the
// CSV file's conventions.
type rowSource struct {
	gen    func() ([]string, error)
	header []string
	at     []int
	width  int
	line   int64
	total  int64
}

func newRowSource(columns []string, total int64, next func() ([]string, error), cols []column) (*rowSource, error) {
	at, err := bindHeader(columns, cols)
	if err != nil {
		return nil, err
	}
	// Line 1 is the header, as in the CSV file the rows could be written to.
	return &rowSource{gen: next, header: columns, at: at, width: len(cols), line: 1, total: total}, nil
}

func (s *rowSource) next() (record, error) {
	cells, err := s.gen()
	if err != nil {
		return record{}, err
	}
	s.line++
	rec := record{line: s.line, original: cells}
	if len(cells) != len(s.header) {
		rec.err = reject(reasonMalformed, "%d fields for %d columns", len(cells), len(s.header))
		return rec, nil
	}
	rec.fields = make([]optional.Field[string], s.width)
	for i, v := range cells {
		rec.fields[s.at[i]] = cell(v)
	}
	return rec, nil
}

func (s *rowSource) progress() (int64, int64) { return s.line - 1, s.total }
func (s *rowSource) rejectColumns() []string  { return s.header }
