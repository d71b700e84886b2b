package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"canopy/auth"
	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// propRecord is a record of the kinds of fields the bulk records have.
type propRecord struct {
	Name optional.Field[string] `json:"name"`
	N    *int32                 `json:"n"`
	Tags []string               `json:"tags"`
	Sub  *struct {
		A bool `json:"a"`
	} `json:"sub"`
}

var (
	jsonSpace = rapid.SampledFrom([]string{"", "", " ", "\n", "\t", "\r\n  "})
	// String pieces: escapes, surrogates (a lone one too), brackets and
	// commas that must not end a record, and UTF-8 of several lengths.
	jsonStringPiece = rapid.SampledFrom([]string{"a", `\"`, `\\`, `\n`, `\/`, `\u00e9`, `\ud800`, `\ud83d\ude00`,
		"[", "]", "{", "}", ",", ":", "é", "€", "😀", " "})
	jsonNumber = rapid.SampledFrom([]string{"0", "-1", "7", "1.5e3", "2147483648", "-0.0", "1e400"})
	// Field names: propRecord's, one in other case (encoding/json matches
	// it, canopy refuses it), and unknown ones.
	jsonField = rapid.SampledFrom([]string{`"name"`, `"n"`, `"tags"`, `"sub"`, `"NAME"`, `"x"`, `"a]b"`, `"\"}"`})
)

// drawJSON draws the text of a JSON value, nesting at most depth more levels.
func drawJSON(t *rapid.T, depth int) string {
	kinds := 6
	if depth == 0 {
		kinds = 4
	}
	ws := func() string { return jsonSpace.Draw(t, "space") }
	switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
	case 0:
		return "null"
	case 1:
		return rapid.SampledFrom([]string{"true", "false"}).Draw(t, "bool")
	case 2:
		return jsonNumber.Draw(t, "number")
	case 3:
		return `"` + strings.Join(rapid.SliceOfN(jsonStringPiece, 0, 6).Draw(t, "string"), "") + `"`
	case 4:
		var elems []string
		for range rapid.IntRange(0, 3).Draw(t, "array length") {
			elems = append(elems, ws()+drawJSON(t, depth-1)+ws())
		}
		return "[" + ws() + strings.Join(elems, ",") + "]"
	default:
		var members []string
		for range rapid.IntRange(0, 4).Draw(t, "members") {
			members = append(members, ws()+jsonField.Draw(t, "field")+ws()+":"+ws()+drawJSON(t, depth-1)+ws())
		}
		return "{" + ws() + strings.Join(members, ",") + "}"
	}
}

// drawBatch draws a JSON array body; repeating its elements makes
// batches of hundreds of records, with more errors than are reported.
func drawBatch(t *rapid.T) string {
	var elems []string
	for range rapid.IntRange(0, 6).Draw(t, "elements") {
		elems = append(elems, jsonSpace.Draw(t, "space")+drawJSON(t, 3)+jsonSpace.Draw(t, "space"))
	}
	repeat := 1
	if rapid.Bool().Draw(t, "many") {
		repeat = rapid.IntRange(20, 60).Draw(t, "repeat")
	}
	var all []string
	for range repeat {
		all = append(all, elems...)
	}
	return jsonSpace.Draw(t, "space") + "[" + strings.Join(all, ",") + jsonSpace.Draw(t, "space") + "]" + jsonSpace.Draw(t, "space")
}

// mutate breaks (or not) a body: a byte deleted, a byte of JSON syntax
// inserted, the end cut, or something appended.
func mutate(t *rapid.T, body string) string {
	at := rapid.IntRange(0, len(body)).Draw(t, "at")
	switch rapid.IntRange(0, 3).Draw(t, "mutation") {
	case 0:
		if at < len(body) {
			return body[:at] + body[at+1:]
		}
		return body
	case 1:
		return body[:at] + rapid.SampledFrom([]string{"[", "]", "{", "}", ",", `"`, ":", `\`, "x", " "}).Draw(t, "insert") + body[at:]
	case 2:
		return body[:at]
	default:
		return body + rapid.SampledFrom([]string{"]", ",", " x", "[]", "null"}).Draw(t, "append")
	}
}

// exactNames reports whether every top-level member of the JSON object obj
// is named as propRecord's tags write it: encoding/json would also take
// "NAME" for "name", which canopy refuses as an unknown field.
func exactNames(obj []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(obj, &members) != nil {
		return true // not an object: refused or not on other grounds
	}
	for name := range members {
		if !slices.Contains([]string{"name", "n", "tags", "sub"}, name) {
			return false
		}
	}
	return true
}

// decodeBatch agrees with encoding/json, which decodes each element on its
// own: on what is an array and how many elements it has, on which records
// are refused (each once, in order, at most queries.MaxFieldErrors of them), and
// it refuses a batch of more than the limit with a 413. 100 bodies by
// default (-rapid.checks=N for more).
func TestDecodeBatchMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := drawBatch(t)
		mutated := rapid.IntRange(0, 3).Draw(t, "mutate") == 3
		if mutated {
			body = mutate(t, body)
		}
		var elements []json.RawMessage
		isArray := utf8.ValidString(body) && json.Unmarshal([]byte(body), &elements) == nil && elements != nil
		if !mutated && !isArray {
			t.Fatalf("the generator made %q, which is not a JSON array", body)
		}
		if rules.LoneSurrogate([]byte(body)) { // no character: refused unread
			_, err := decodeBatch(bodyRequest([]byte(body)), math.MaxInt, func(_ *propRecord, i int, _ *batchErrors) int { return i })
			if api := (*apiError)(nil); !errors.As(err, &api) || api.status != http.StatusBadRequest {
				t.Fatalf("%q escapes a lone surrogate, but: %v", body, err)
			}
			return
		}
		limit := math.MaxInt
		if !mutated {
			limit = rapid.IntRange(0, len(elements)+1).Draw(t, "limit")
		}

		out, err := decodeBatch(bodyRequest([]byte(body)), limit, func(_ *propRecord, i int, _ *batchErrors) int { return i })
		var api *apiError
		var ve *queries.ValidationError
		if !isArray {
			switch {
			case errors.As(err, &api) && api.status == http.StatusBadRequest:
			case errors.As(err, &ve) && len(ve.Errors) == 1 && ve.Errors[0].Field == "(body)":
			default:
				t.Fatalf("%q is not a JSON array, but decodeBatch answered %v", body, err)
			}
			return
		}
		if len(elements) > limit {
			if !errors.As(err, &api) || api.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d records past the limit of %d: %v, want a 413", len(elements), limit, err)
			}
			return
		}
		var refused []int
		for i, e := range elements {
			var record *propRecord
			dec := json.NewDecoder(bytes.NewReader(e))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&record); err != nil || record == nil || !exactNames(e) {
				refused = append(refused, i)
			}
		}
		if len(refused) == 0 {
			if err != nil {
				t.Fatalf("%q: %v, want its %d records", body, err, len(elements))
			}
		} else {
			if !errors.As(err, &ve) {
				t.Fatalf("%q: records %v do not decode, but decodeBatch answered %v", body, refused, err)
			}
			var got []int
			for _, f := range ve.Errors {
				got = append(got, f.Index)
			}
			if want := refused[:min(len(refused), queries.MaxFieldErrors)]; !slices.Equal(got, want) {
				t.Fatalf("%q: errors at records %v, want %v", body, got, want)
			}
		}
		if len(out) != len(elements) {
			t.Fatalf("%q has %d elements, decodeBatch found %d", body, len(elements), len(out))
		}
		for i, r := range out {
			if r != i && !slices.Contains(refused, i) {
				t.Fatalf("%q: record %d came out as %d", body, i, r)
			}
		}
	})
}

// Two values where a record should be are malformed JSON (400), also when
// the first is not an object: decodeBatch once reported it as a record of
// the wrong type (422) and read the records after it from the wrong spans.
func TestDecodeBatchTwoValuesInOneRecord(t *testing.T) {
	for _, body := range []string{`[1 2]`, `[true,falsetrue]`, `[{"n":"x"} {"n":1}, {"x":1}]`, `[{"x":1}{}]`, `["a" {}]`} {
		t.Run(body, func(t *testing.T) {
			_, err := decodeBatch(bodyRequest([]byte(body)), 10, func(_ *propRecord, i int, _ *batchErrors) int { return i })
			if api := (*apiError)(nil); !errors.As(err, &api) || api.status != http.StatusBadRequest {
				t.Fatalf("decodeBatch(%s): %v, want a 400", body, err)
			}
		})
	}
}

// Every bulk endpoint reads its body with the one bulk decoder: a body of
// small elements far past the row limit is refused with a 413 without
// decoding it into memory many times its size, and a batch of invalid
// records reports at most queries.MaxFieldErrors of them.
func TestBulkBodiesBounded(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	zeros := "[" + strings.Repeat("0,", 8<<20-8) + "0]" // just under 16 MiB, the body limit
	for _, path := range []string{"/api/v1/patients/bulk", "/api/v1/observations/bulk", "/api/v1/predictions/bulk", "/api/v1/articles/bulk"} {
		t.Run(path, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := ts.send("POST", path, zeros, bearer(admin)...)
			runtime.ReadMemStats(&after)
			if r.StatusCode != http.StatusRequestEntityTooLarge || r.problem(t).Code != "too_large" {
				t.Fatalf("16 MiB of zeros: %d %.200s, want 413", r.StatusCode, r.Body)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 128<<20 {
				t.Errorf("refusing 16 MiB allocated %d MiB", allocated>>20)
			}

			empty := "[" + strings.Repeat("{},", 9_999) + "{}]"
			r = ts.do("POST", path, empty, bearer(admin)...)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("10,000 empty records: %d %.200s, want 422", r.StatusCode, r.Body)
			}
			if p := r.problem(t); len(p.Errors) != queries.MaxFieldErrors {
				t.Errorf("10,000 empty records: %d errors reported, want %d", len(p.Errors), queries.MaxFieldErrors)
			}
		})
	}
}

// BenchmarkDecodeBatch decodes a full observations batch: 50,000 records,
// about 4.5 MB, the Go side of the largest bulk request.
func BenchmarkDecodeBatch(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("[")
	for i := range observationsBatchLimit {
		if i > 0 {
			buf.WriteString(",\n")
		}
		fmt.Fprintf(&buf, `{"patient_uid":"W%03d","code":"heart_rate","observed_at":"2024-06-01T%02d:%02d:00Z","value":%d.5}`, i%20, (i/60)%24, i%60, 60+i%40)
	}
	buf.WriteString("]")
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeBatch(httptest.NewRequest("POST", "/", bytes.NewReader(body)), observationsBatchLimit, (*observationRecord).record); err != nil {
			b.Fatal(err)
		}
	}
}
