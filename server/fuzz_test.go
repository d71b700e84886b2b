package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"canopy/queries"
	"canopy/rules"
)

// wantClientError fails when err would not be answered with a 4xx: bad
// input must never be a 500.
func wantClientError(t *testing.T, err error, input any) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/", nil)
	(&Server{log: discardLogger()}).fail(c, err)
	if w.Code < 400 || w.Code >= 500 {
		t.Fatalf("input %q: error %v answered %d", input, err, w.Code)
	}
}

func bodyRequest(body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 16<<20)
	return r
}

// The bulk decoders take any bytes: records or a 4xx, never a panic.
func FuzzBulkBodies(f *testing.F) {
	for _, seed := range []string{
		`[{"uid":"p1","name":"A","sex":"F","birth_date":"1990-01-02","ward_id":3,"admitted_at":"2024-06-01T08:00:00Z"}]`,
		`[{"uid":"p1","died_at":null},{"uid":"p1","name":null}]`,
		`[{"patient_uid":"p1","code":"heart_rate","observed_at":"2024-06-01T08:00:00+09:00","value":81.5}]`,
		`[{"patient_uid":"p1","model":"m","target":"t","predicted_at":"2024-06-01T08:00:00Z","horizon_hours":6,"probability":0.3}]`,
		`[null, 5, "x", [], {}]`, `{"uid":"p1"}`, `[`, `[{"uid":1e400}]`, `[{"uid":"\ud800"}]`, "[{\"uid\":\"\xff\"}]",
		`[{"uid":"p1","extra":1}] trailing`, `[{"sex":"X","birth_date":"2999-01-01","ward_id":-1}]`,
		`[]`, ` [ ] `, `[1,]`, `[,1]`, `[1 2]`, `[{"a":"]"},{"b":"\"]"}]`, `[[1,[2]],{}]`, `[}`, `[1]]`, `null`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40), `[{"uid":"` + strings.Repeat("[", 40) + `"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodeBatch(bodyRequest(body), patientsBatchLimit, (*patientRecord).record); err != nil {
			wantClientError(t, err, body)
		}
		if _, err := decodeBatch(bodyRequest(body), observationsBatchLimit, (*observationRecord).record); err != nil {
			wantClientError(t, err, body)
		}
		if _, err := decodeBatch(bodyRequest(body), predictionsBatchLimit, (*predictionRecord).record); err != nil {
			wantClientError(t, err, body)
		}
		// decodeBatch splits the array itself: it must agree with
		// encoding/json on what an array is and how many elements it has
		// (within the nesting bound and without lone surrogates, bodies
		// refused unread).
		if jsonTooDeep(body) || rules.LoneSurrogate(body) {
			return
		}
		var elements []json.RawMessage
		isArray := utf8.Valid(body) && json.Unmarshal(body, &elements) == nil && elements != nil
		records, err := decodeBatch(bodyRequest(body), math.MaxInt, func(r *json.RawMessage, _ int, _ *batchErrors) json.RawMessage { return *r })
		var ve *queries.ValidationError
		switch {
		case isArray && err != nil && !errors.As(err, &ve):
			t.Fatalf("%q is an array of %d elements, but: %v", body, len(elements), err)
		case isArray && len(records) != len(elements):
			t.Fatalf("%q has %d elements, decodeBatch found %d", body, len(elements), len(records))
		case !isArray && err == nil,
			!isArray && errors.As(err, &ve) && (len(ve.Errors) != 1 || ve.Errors[0].Field != "(body)"):
			t.Fatalf("%q is not a JSON array, but decodeBatch took it (%v)", body, err)
		}
	})
}

// Tree PATCH and POST bodies: validated fields or a 4xx.
func FuzzTreeBody(f *testing.F) {
	for _, seed := range []string{`{"name":"a","parent_id":null,"position":2}`, `{"parent_id":-4}`, `{"name":""}`,
		`{"code":null}`, `{"position":99999999999}`, `{"name":{"x":1}}`, `[]`, ``, `{"name":"a"}{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tr := range []trees{{spec: queries.Categories}, {spec: queries.Departments}} {
			var fields nodeFields
			err := decodeJSON(bodyRequest(body), &fields)
			if err == nil {
				err = tr.check(&fields, "name")
			}
			if err != nil {
				wantClientError(t, err, body)
			}
		}
	})
}

// A cursor either is one encodeCursor writes, byte for byte, or is refused.
func FuzzCursor(f *testing.F) {
	month := queries.Month{Year: 2024, Month: time.June, Loc: time.UTC}
	f.Add(encodeCursor(queries.ArticleKey{CreatedAt: time.Date(2024, 6, 3, 4, 5, 6, 7000, time.UTC), ID: "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"}))
	for _, seed := range []string{"", "x", "AAAA", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AQ==", strings.Repeat("A", 34)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := decodeCursor(s, month)
		if err != nil {
			wantClientError(t, err, s)
			return
		}
		if again := encodeCursor(*key); again != s {
			t.Fatalf("cursor %q decodes to %+v, which encodes as %q", s, key, again)
		}
	})
}

// Query parameters of the listings, trees and hourly means: parsed or a 4xx.
func FuzzQueryParams(f *testing.F) {
	for _, seed := range []string{"year=2024&month=6&tz=Asia/Seoul", "year=0&month=13", "tz=Local&year=1&month=1",
		"tz=../../etc/passwd&year=2024&month=1", "root=-1&depth=1000001", "root=1e3", "from=2024-06-01T00:00:00Z&to=x",
		"month=%00", "year=99999999999999999999&month=1"} {
		f.Add(seed)
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, raw string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.URL.RawQuery = raw
		checks := []func() error{
			func() error { _, err := monthQuery(c); return err },
			func() error { _, err := queryInt64(c, "root", 1); return err },
			func() error { _, err := queryInt(c, "depth", 0, 1_000_000); return err },
			func() error { _, err := queryTime(c, "from"); return err },
		}
		for _, check := range checks {
			if err := check(); err != nil {
				wantClientError(t, err, raw)
			}
		}
	})
}
