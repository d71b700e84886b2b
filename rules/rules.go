// Package rules holds the rules a field's value must keep, written once for
// the HTTP API and the importer alike, so that a value one accepts is one the
// other accepts, refused with the same words. It imports nothing of canopy's.
package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// The reasons a timestamp is refused, in the words both the API and the
// importer report: it does not parse, or it parses to an instant outside
// years 1 to 9999 in UTC.
var (
	ErrTimestamp      = errors.New("must be an RFC 3339 timestamp with an offset, such as 2024-11-03T08:15:00Z, to the microsecond at the finest")
	ErrTimestampYears = errors.New("must fall within years 1 to 9999 in UTC")
)

// rfc3339 is RFC 3339's date-time, which Go's parser reads more loosely
// (offsets of +24:00, a comma before the fraction) and more strictly (it
// wants T and Z in capitals).
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// Timestamp parses an RFC 3339 timestamp with an offset. Its instant must
// fall within years 1 to 9999 in UTC: that is all RFC 3339 (and so JSON)
// can write in UTC, and canopy shows every time in UTC or in a zone the
// reader names. "9999-12-31T23:00:00-23:59" parses, but it is 10000 in UTC.
// A fraction finer than PostgreSQL's microseconds is refused rather than
// cut, so that what is stored is what was sent.
func Timestamp(s string) (time.Time, error) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, ErrTimestamp
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	if err != nil || t.Nanosecond()%1000 != 0 {
		return time.Time{}, ErrTimestamp
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, ErrTimestampYears
	}
	return t, nil
}

// Text checks a text field of at most max characters (runes): UTF-8, not
// blank, and without NUL, which PostgreSQL's text cannot hold.
func Text(s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New("must be UTF-8 text")
	case strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > max:
		return fmt.Errorf("must be 1 to %d characters, not blank", max)
	case strings.ContainsRune(s, 0):
		return errors.New("must not contain NUL characters")
	}
	return nil
}
