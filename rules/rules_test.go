package rules

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"UTC", "2024-11-03T08:15:00Z", nil},
		{"offset", "2024-11-03T17:15:00+09:00", nil},
		{"fraction", "2024-11-03T08:15:00.123456Z", nil},
		{"first instant", "0001-01-01T00:00:00Z", nil},
		{"last instant", "9999-12-31T23:59:59.999999Z", nil},
		{"year 10000 in UTC", "9999-12-31T23:00:00-23:59", ErrTimestampYears},
		{"year 0 in UTC", "0001-01-01T00:00:00+01:00", ErrTimestampYears},
		{"year 0", "0000-01-01T00:00:00Z", ErrTimestampYears},
		{"year 0 with offset", "0000-01-01T00:00:00+01:00", ErrTimestampYears},
		{"no offset", "2024-11-03T08:15:00", ErrTimestamp},
		{"date only", "2024-11-03", ErrTimestamp},
		{"empty", "", ErrTimestamp},
		{"garbage", "yesterday", ErrTimestamp},
		{"lower-case t and z", "2024-11-03t08:15:00z", nil},
		{"microseconds", "2024-11-03T08:15:00.123456Z", nil},
		{"nanoseconds of zero", "2024-11-03T08:15:00.123456000Z", nil},
		{"finer than microseconds", "2024-11-03T08:15:00.0000001Z", ErrTimestamp},
		{"offset of 24 hours", "2024-11-03T08:15:00+24:00", ErrTimestamp},
		{"offset of 60 minutes", "2024-11-03T08:15:00+05:60", ErrTimestamp},
		{"comma before the fraction", "2024-11-03T08:15:00,5Z", ErrTimestamp},
		{"offset without a colon", "2024-11-03T08:15:00+0900", ErrTimestamp},
		{"space for T", "2024-11-03 08:15:00Z", ErrTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Timestamp(tc.in)
			if err != tc.want {
				t.Fatalf("Timestamp(%q) = %v, %v; want error %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// Whatever Timestamp accepts, JSON can carry in UTC and reads back as the
// same instant: a stored time can always be shown.
func TestTimestampRoundTripsThroughJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sec := rapid.Int64Range(-70_000_000_000, 260_000_000_000).Draw(t, "sec")
		offset := rapid.IntRange(-(23*60+59), 23*60+59).Draw(t, "offset minutes")
		in := time.Unix(sec, 0).In(time.FixedZone("", offset*60)).Format(time.RFC3339)
		got, err := Timestamp(in)
		if err != nil {
			return // outside the years: refused, which the table test covers
		}
		b, err := got.UTC().MarshalJSON()
		if err != nil {
			t.Fatalf("accepted %q, but JSON cannot carry it: %v", in, err)
		}
		var back time.Time
		if err := back.UnmarshalJSON(b); err != nil || !back.Equal(got) {
			t.Fatalf("accepted %q, read back %s (%v)", in, b, err)
		}
	})
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"a word", "ward", true},
		{"at the limit", "ééééé", true},
		{"past the limit", "éééééé", false},
		{"empty", "", false},
		{"blank", " \t\n", false},
		{"NUL", "a\x00b", false},
		{"not UTF-8", "a\xffb", false},
		{"SQL-looking", "'--", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Text(tc.in, 5); (err == nil) != tc.ok {
				t.Errorf("Text(%q, 5) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// Each rule's refusal, in the words the API and the importer report.
func TestRules(t *testing.T) {
	const url = "must be an absolute http(s) URL of at most 2048 bytes"
	const born = "must be between 1900-01-01 and today"
	now := time.Date(2024, 11, 3, 11, 0, 0, 0, time.UTC) // already the 4th in UTC+14
	birth := func(s string) error {
		d, err := Date(s)
		if err != nil {
			return err
		}
		return BirthDate(d, now)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for accepted
	}{
		{"integer at the bound", Int(HorizonMax, 0, HorizonMax), ""},
		{"integer past the bound", Int(HorizonMax+1, 0, HorizonMax), "must be an integer from 0 to 8760"},
		{"integer below", Int(-1, 0, BedsMax), "must be an integer from 0 to 100000"},
		{"number at the bound", Number(-ValueMax, -ValueMax, ValueMax), ""},
		{"number past the bound", Number(2e15, -ValueMax, ValueMax), "must be a number from -1e15 to 1e15"},
		{"NaN", Number(math.NaN(), 0, 1), "must be a number from 0 to 1"},
		{"a fraction", Number(0.5, 0, 1), ""},
		{"born long ago", birth("1950-06-01"), ""},
		{"born on the first day", birth("1900-01-01"), ""},
		{"born before", birth("1899-12-31"), born},
		{"born today in UTC", birth("2024-11-03"), ""},
		{"born today in Kiribati", birth("2024-11-04"), ""},
		{"born tomorrow", birth("2024-11-05"), born},
		{"a date without its zeros", birth("2024-1-3"), "must be a date, YYYY-MM-DD"},
		{"sex F", Sex("F"), ""},
		{"sex in lower case", Sex("f"), "must be one of F, M, O, U"},
		{"https URL", ImageURL("https://img.example/a.png"), ""},
		{"http URL", ImageURL("http://img.example/a.png"), ""},
		{"no host", ImageURL("https:///a.png"), url},
		{"another scheme", ImageURL("ftp://img.example/a.png"), url},
		{"relative", ImageURL("/a.png"), url},
		{"too long", ImageURL("https://img.example/" + strings.Repeat("a", ImageURLMax)), url},
		{"NUL", ImageURL("https://img.example/a\x00.png"), url},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(tc.err); tc.want == "" && tc.err != nil || tc.want != "" && got != tc.want {
				t.Errorf("got %v, want %q", tc.err, tc.want)
			}
		})
	}
}

// Half a surrogate pair escaped alone is no character: encoding/json would
// store it as U+FFFD, so that two different texts sent became one.
func TestLoneSurrogate(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		lone       bool
	}{
		{"no escapes", `[{"uid":"a"}]`, false},
		{"a pair", `[{"uid":"\ud83d\ude00"}]`, false},
		{"a plain escape", `[{"uid":"\u0041"}]`, false},
		{"a high half alone", `[{"uid":"a\ud800"}]`, true},
		{"a low half alone", `[{"uid":"a\udfff"}]`, true},
		{"a high half before a plain escape", `[{"uid":"\ud800\u0041"}]`, true},
		{"a high half at the end", `"\ud800`, true},
		{"an escaped backslash before u", `[{"uid":"\\ud800"}]`, false},
		{"three backslashes", `[{"uid":"\\\ud800"}]`, true},
		{"a malformed escape", `[{"uid":"\uzzzz"}]`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := LoneSurrogate([]byte(tt.body)); got != tt.lone {
				t.Errorf("LoneSurrogate(%s) = %t, want %t", tt.body, got, tt.lone)
			}
		})
	}
}

// Numbers as JSON writes them, integers as plain decimals: what an API
// client can send, not all that Go's parsers read.
func TestParseNumbers(t *testing.T) {
	for _, tc := range []struct {
		in     string
		number bool
		int    bool
	}{
		{"6", true, true},
		{"-6", true, true},
		{"0", true, true},
		{"0.5", true, false},
		{"-1.25e3", true, false},
		{"1E-2", true, false},
		{"007", false, true},
		{"+6", false, false},
		{" 6", false, false},
		{"6 ", false, false},
		{"-", false, false},
		{"", false, false},
		{"0x1p4", false, false},
		{"0x10", false, false},
		{"1_000", false, false},
		{"1_0.5", false, false},
		{"0_0.5", false, false},
		{".5", false, false},
		{"5.", false, false},
		{"Inf", false, false},
		{"NaN", false, false},
	} {
		if _, err := ParseNumber(tc.in); (err == nil) != tc.number {
			t.Errorf("ParseNumber(%q): %v", tc.in, err)
		}
		if _, err := ParseInt(tc.in); (err == nil) != tc.int {
			t.Errorf("ParseInt(%q): %v", tc.in, err)
		}
	}
}

func TestValidUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00": true,
		"0B5F2B7E-51B4-4A4E-9F0E-8D6F3C2A1B00": true,
		"0b5f2b7e51b44a4e9f0e8d6f3c2a1b00":     false,
		"0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b0g": false,
		"0b5f2b7e-51b4-4a4e-9f0e_8d6f3c2a1b00": false,
		"":                                     false,
	} {
		if got := ValidUUID(s); got != want {
			t.Errorf("ValidUUID(%q) = %t", s, got)
		}
	}
}
