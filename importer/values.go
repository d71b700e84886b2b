package importer

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// The reasons a row is rejected: the first words of every reason in the
// rejects file.
const (
	reasonMalformed = "malformed record"   // the record itself could not be read
	reasonBadValue  = "bad value"          // a field is missing, malformed or out of range
	reasonUnknown   = "unknown reference"  // a natural key that names nothing
	reasonDuplicate = "duplicate in file"  // the same natural key earlier in the file
	reasonConflict  = "conflict"           // clashes with a different stored row
	reasonCycle     = "would make a cycle" // a tree row whose parent chain comes back to it
	reasonTooDeep   = "too deep"           // a tree row that would put a node past the maximum depth
)

// rejection is why one row is not imported.
type rejection struct {
	reason string
	detail string
}

func (r *rejection) Error() string { return r.reason + ": " + r.detail }

func reject(reason, format string, args ...any) *rejection {
	return &rejection{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// checker reads the fields of one record, remembering the first problem, so
// that a kind's parser reads as a list of its columns. The rules it checks
// are the API's, from package rules, so that a row the import takes is one
// the API would take, refused in the same words (followed here by the value
// refused, where it is short).
type checker struct {
	cols   []column
	fields []optional.Field[string]
	err    *rejection
}

func (c *checker) fail(i int, format string, args ...any) {
	if c.err == nil {
		c.err = reject(reasonBadValue, "%s: %s", c.cols[i].name, fmt.Sprintf(format, args...))
	}
}

// check fails field i with err, a rule's refusal, unless it is nil.
func (c *checker) check(i int, err error) {
	if err != nil {
		c.fail(i, "%v, not %q", err, c.fields[i].Value)
	}
}

// value is the text of field i, and whether it has one. A required field
// without one is a problem.
func (c *checker) value(i int) (string, bool) {
	f := c.fields[i]
	if !f.Present() {
		if c.cols[i].required {
			c.fail(i, "%v", rules.ErrRequired)
		}
		return "", false
	}
	return f.Value, true
}

// carried says whether the record carried field i, as a value or as null.
func (c *checker) carried(i int) bool { return c.fields[i].Set }

// text is field i, 1 to max characters; nil without a value.
func (c *checker) text(i, max int) *string {
	s, ok := c.value(i)
	if !ok {
		return nil
	}
	if err := rules.Text(s, max); err != nil {
		c.fail(i, "%v", err)
	}
	return &s
}

// str is field i as text, "" without a value (for required fields).
func (c *checker) str(i, max int) string {
	if s := c.text(i, max); s != nil {
		return *s
	}
	return ""
}

// integer is field i, a plain decimal integer (rules.ParseInt) between min
// and max; nil without a value.
func (c *checker) integer(i int, min, max int64) *int64 {
	s, ok := c.value(i)
	if !ok {
		return nil
	}
	n, err := rules.ParseInt(s)
	if err != nil || rules.Int(n, min, max) != nil {
		c.fail(i, "%v, not %q", rules.IntRange(min, max), s)
	}
	return &n
}

func (c *checker) int64(i int, min, max int64) int64 {
	if n := c.integer(i, min, max); n != nil {
		return *n
	}
	return 0
}

// number is field i, a number as JSON writes one (rules.ParseNumber)
// between min and max.
func (c *checker) number(i int, min, max float64) float64 {
	s, ok := c.value(i)
	if !ok {
		return 0
	}
	v, err := rules.ParseNumber(s)
	if err != nil || rules.Number(v, min, max) != nil {
		c.fail(i, "%v, not %q", rules.NumberRange(min, max), s)
	}
	return v
}

// boolean is field i: true or false (also t/f, 1/0, yes/no); nil without a value.
func (c *checker) boolean(i int) *bool {
	s, ok := c.value(i)
	if !ok {
		return nil
	}
	var b bool
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes":
		b = true
	case "false", "f", "0", "no":
	default:
		c.fail(i, "must be true or false, not %q", s)
	}
	return &b
}

// timestamp is field i, RFC 3339 with an offset (a space may stand for the
// T, as PostgreSQL writes it); nil without a value.
func (c *checker) timestamp(i int) *time.Time {
	s, ok := c.value(i)
	if !ok {
		return nil
	}
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	if n := len(s); n > 19 && (s[n-3] == '+' || s[n-3] == '-') && isDigits(s[n-2:]) {
		s += ":00" // PostgreSQL writes a whole-hour offset as +00
	}
	t, err := rules.Timestamp(s)
	c.check(i, err)
	return &t
}

func (c *checker) time(i int) time.Time {
	if t := c.timestamp(i); t != nil {
		return *t
	}
	return time.Time{}
}

func isDigits(s string) bool { return strings.Trim(s, "0123456789") == "" }

// date is field i, YYYY-MM-DD; nil without a value.
func (c *checker) date(i int) *time.Time {
	s, ok := c.value(i)
	if !ok {
		return nil
	}
	d, err := rules.Date(strings.TrimSpace(s))
	c.check(i, err)
	return &d
}

// imageURL is field i, a newsletter's image URL (rules.ImageURL); "" without
// a value.
func (c *checker) imageURL(i int) string {
	s, ok := c.value(i)
	if !ok {
		return ""
	}
	if err := rules.ImageURL(s); err != nil {
		c.fail(i, "%v", err)
	}
	return s
}

// uuid is field i, a UUID in its usual hex form, and whether it has one.
func (c *checker) uuid(i int) (queries.UUID, bool) {
	s, ok := c.value(i)
	if !ok {
		return queries.UUID{}, false
	}
	u, ok := rules.ParseUUID(strings.TrimSpace(s))
	if !ok {
		c.fail(i, "must be a UUID, not %q", s)
	}
	return u, true
}

func formatUUID(u queries.UUID) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// ids is field i, a list of positive integers separated by ";" (or ","),
// each once; an empty list without a value.
func (c *checker) ids(i int) []int64 {
	s, ok := c.value(i)
	if !ok {
		return []int64{}
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		n, err := rules.ParseInt(p)
		if err != nil || n < 1 {
			c.fail(i, "must be positive integers separated by \";\", not %q", s)
			return nil
		}
		for _, seen := range out {
			if seen == n {
				c.fail(i, "lists %d twice", n)
				return nil
			}
		}
		out = append(out, n)
	}
	return out
}

// money is field i, a whole number of won, at least 0.
func (c *checker) money(i int) int64 { return c.int64(i, 0, math.MaxInt64) }

// keySep separates the parts of a natural key in its text: the ASCII unit
// separator, which PostgreSQL text can hold (NUL it cannot) and no real key
// contains.
const keySep = "\x1f"

// key joins the parts of a natural key into the text that identifies it in
// the run's seen set.
func key(parts ...string) string { return strings.Join(parts, keySep) }
