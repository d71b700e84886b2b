// Package rules holds the rules a field's value must keep, written once for
// the HTTP API and the importer alike, so that a value one accepts is one the
// other accepts, refused with the same words. It imports nothing of canopy's.
package rules

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The longest text fields, in characters. The trees' and the hospital's
// tables repeat NameMax and CodeMax in CHECKs, a guard for writers other
// than canopy; the listing and academy tables have none.
const (
	// NameMax: the name of a department, category, ward, patient, token or
	// newsletter; an article's sender, domain and mailing list; a legacy id.
	NameMax = 200
	// TitleMax: an article's or a course's title.
	TitleMax = 1000
	// CodeMax: a department's code, a patient's uid, an observation's code,
	// a prediction's model and target.
	CodeMax = 64
)

// Bounds of the other fields the API and the importer both take.
const (
	ImageURLMax = 2048    // bytes of a newsletter's image URL
	BedsMax     = 100_000 // beds of a ward
	HorizonMax  = 8760    // hours of a prediction's horizon: a year
	// ValueMax bounds an observation's value either side of 0, so that no
	// sum of an hour's values can overflow a double precision mean.
	ValueMax = 1e15
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

// ErrRequired is why a required field that is missing or null is refused.
var ErrRequired = errors.New("is required")

// ErrNotUTF8 is why text that is not UTF-8 is refused.
var ErrNotUTF8 = errors.New("must be UTF-8 text")

// Text checks a text field of at most max characters (runes): UTF-8, not
// blank, and without NUL, which PostgreSQL's text cannot hold.
func Text(s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return ErrNotUTF8
	case strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > max:
		return fmt.Errorf("must be 1 to %d characters, not blank", max)
	case strings.ContainsRune(s, 0):
		return errors.New("must not contain NUL characters")
	}
	return nil
}

// Int checks an integer field against its bounds, min and max included.
func Int(n, min, max int64) error {
	if n < min || n > max {
		return IntRange(min, max)
	}
	return nil
}

// IntRange is why an integer field is refused, out of its bounds or not an
// integer at all.
func IntRange(min, max int64) error {
	return fmt.Errorf("must be an integer from %d to %d", min, max)
}

// jsonNumber is JSON's number grammar: what an API client can send.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ParseNumber reads a number written as JSON writes one. Go's ParseFloat
// reads more (0x1p4, 1_000, Inf, a leading +), which no API client can send.
func ParseNumber(s string) (float64, error) {
	if !jsonNumber.MatchString(s) {
		return 0, errors.New("not a JSON number")
	}
	return strconv.ParseFloat(s, 64)
}

// ParseInt reads a plain decimal integer: digits, an optional leading '-'.
// Go's ParseInt reads a leading + as well.
func ParseInt(s string) (int64, error) {
	if digits := strings.TrimPrefix(s, "-"); digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, errors.New("not a decimal integer")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Number checks a number field against its bounds, min and max included;
// NaN is refused.
func Number(v, min, max float64) error {
	if !(v >= min && v <= max) {
		return NumberRange(min, max)
	}
	return nil
}

// NumberRange is why a number field is refused, out of its bounds or not a
// number at all. The bounds are written as a person would: 1e15, not 1e+15.
func NumberRange(min, max float64) error {
	short := func(v float64) string { return strings.Replace(strconv.FormatFloat(v, 'g', -1, 64), "e+", "e", 1) }
	return fmt.Errorf("must be a number from %s to %s", short(min), short(max))
}

// ErrDate is why a date field that does not parse is refused.
var ErrDate = errors.New("must be a date, YYYY-MM-DD")

// Date parses a date, YYYY-MM-DD.
func Date(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, ErrDate
	}
	return d, nil
}

// earliestBirthDate bounds birth dates from below: nobody alive was born earlier.
var earliestBirthDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// BirthDate checks a patient's date of birth (a date, as Date returns it)
// at the instant now: from 1900-01-01 to today anywhere on Earth, up to
// UTC+14, so that a birth today is never in the future.
func BirthDate(d, now time.Time) error {
	today := now.Add(14 * time.Hour).UTC().Format(time.DateOnly)
	if d.Before(earliestBirthDate) || d.Format(time.DateOnly) > today {
		return fmt.Errorf("must be between %s and today", earliestBirthDate.Format(time.DateOnly))
	}
	return nil
}

// sexes are the values of a patient's sex: female, male, other, unknown.
var sexes = []string{"F", "M", "O", "U"}

// Sex checks a patient's sex.
func Sex(s string) error {
	if !slices.Contains(sexes, s) {
		return fmt.Errorf("must be one of %s", strings.Join(sexes, ", "))
	}
	return nil
}

// ImageURL checks a newsletter's image URL: absolute http or https, at most
// ImageURLMax bytes, without NUL.
func ImageURL(s string) error {
	if u, err := url.Parse(s); err != nil || len(s) > ImageURLMax || strings.ContainsRune(s, 0) ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL of at most %d bytes", ImageURLMax)
	}
	return nil
}

// ErrNewsletterTarget is why a newsletter with neither a domain nor a
// mailing list is refused: its image would show on no article.
var ErrNewsletterTarget = errors.New("a newsletter needs a domain or a mailing_list")

// LoneSurrogate reports whether a \u escape in the JSON text body names
// half of a UTF-16 surrogate pair without the other half: no character.
// encoding/json would read it as U+FFFD, so that two different uids sent
// would be stored as one. The API refuses such a body, the importer such a
// record.
func LoneSurrogate(body []byte) bool {
	hex4 := func(at int) (rune, bool) {
		if at+4 > len(body) {
			return 0, false
		}
		v, err := strconv.ParseUint(string(body[at:at+4]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j
		k := i // the backslash at i escapes only after an even number of others
		for k > 0 && body[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 1 {
			i += 2
			continue
		}
		v, ok := hex4(i + 2)
		switch {
		case !ok: // malformed: the decoder says so
			i += 2
		case v >= 0xDC00 && v <= 0xDFFF:
			return true
		case v >= 0xD800 && v <= 0xDBFF:
			if i+8 > len(body) || string(body[i+6:i+8]) != `\u` {
				return true
			}
			if low, ok := hex4(i + 8); !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 12
		default:
			i += 6
		}
	}
}

// ParseUUID reads a UUID in its canonical 8-4-4-4-12 hex form, in either
// case, the one form the API and the importer take.
func ParseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	digits := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	_, err := hex.Decode(u[:], []byte(digits))
	return u, err == nil
}

// ValidUUID reports whether s is a UUID ParseUUID reads.
func ValidUUID(s string) bool {
	_, ok := ParseUUID(s)
	return ok
}
