package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// queryPieces make raw query strings: separators, escapes of every kind
// (valid, cut short, not hex, of NUL, of bytes that are not UTF-8 alone),
// raw bytes at or past 0x80, and semicolons. None spells a parameter the
// search reads.
var queryPieces = rapid.SampledFrom([]string{"a", "b", "x", "=", "=", "&", "&", "&&", ";", "+", "~", ".",
	"%41", "%7e", "%25", "%26", "%3d", "%3b", "%2b", "%c3%a9", "%e2%82%ac", "%00", "%ff", "%c3", "%ed%a0%80",
	"%2", "%", "%zz", "%g0", "\xff", "\x80", "\xc3\xa9", "é"})

// queryRefused is checkQuery's rule, written out: pairs are split on '&'
// (empty ones skipped); a pair holding ';' is refused, and so is a name or
// value (split at the first '=') whose escapes do not all read as '%' and
// two hex digits, or that decodes ('+' being a space) to text that is not
// UTF-8 or holds NUL, and a name given twice is refused.
func queryRefused(raw string) bool {
	names := map[string]bool{"q": true} // the search's own parameter, before raw
	for _, pair := range strings.Split(raw, "&") {
		if strings.Contains(pair, ";") {
			return true
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		for k, part := range []string{name, value} {
			var decoded []byte
			for i := 0; i < len(part); i++ {
				switch c := part[i]; c {
				case '%':
					if i+2 >= len(part) || !isHex(part[i+1]) || !isHex(part[i+2]) {
						return true
					}
					decoded = append(decoded, unhex(part[i+1])<<4|unhex(part[i+2]))
					i += 2
				case '+':
					decoded = append(decoded, ' ')
				default:
					decoded = append(decoded, c)
				}
			}
			if !utf8.Valid(decoded) || strings.ContainsRune(string(decoded), 0) {
				return true
			}
			if k == 0 {
				if names[string(decoded)] {
					return true
				}
				names[string(decoded)] = true
			}
		}
	}
	return false
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// A raw query string, sent as it is to a live server, is refused with a
// 400 exactly when queryRefused says so, and is otherwise served: never a
// 500, never refused by a layer that should not. 100 query strings by
// default (-rapid.checks=N for more).
func TestQueryStringsProperty(t *testing.T) {
	ts := newTestServer(t)
	rapid.Check(t, func(rt *rapid.T) {
		raw := strings.Join(rapid.SliceOfN(queryPieces, 0, 12).Draw(rt, "query"), "")
		// The search needs q; the pieces cannot name it again.
		r := ts.send("GET", "/api/v1/categories/search?q=x&"+raw, nil)
		switch refused := queryRefused(raw); {
		case refused && r.StatusCode == http.StatusBadRequest:
			var p problem
			if err := json.Unmarshal(r.Body, &p); err != nil || p.Code != "bad_request" {
				rt.Fatalf("%q: 400 %s, want a bad_request problem", raw, r.Body)
			}
		case refused:
			rt.Fatalf("%q should be refused: %d %s", raw, r.StatusCode, r.Body)
		case r.StatusCode != http.StatusOK:
			rt.Fatalf("%q should be served: %d %s", raw, r.StatusCode, r.Body)
		}
	})
}
