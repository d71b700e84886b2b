package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// patientsBatchLimit bounds the records of a patients batch.
const patientsBatchLimit = 10_000

// batchErrors collects the invalid fields of a batch's records, each with
// the record's index, keeping the first queries.MaxFieldErrors.
type batchErrors []queries.FieldError

func (e *batchErrors) add(index int, field, format string, args ...any) {
	if len(*e) < queries.MaxFieldErrors {
		*e = append(*e, queries.FieldError{Index: index, Field: field, Message: fmt.Sprintf(format, args...)})
	}
}

func (e batchErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return &queries.ValidationError{Errors: e}
}

// decodeBatch reads a JSON array of records, decoding each record into T
// with unknown fields refused and converting it. Records that do not decode
// (an unknown field, a value of the wrong type, not an object) are collected
// with their index as validation errors. Malformed JSON is 400; more than
// limit records is 413, found before any record is decoded.
//
// Bulk bodies are megabytes of small records, and decoding them was most of
// an ingest's time in Go: splitArray finds where each record lies in one
// cheap pass, and the records are then decoded in as many parts as there are
// CPUs, at once.
func decodeBatch[T, R any](r *http.Request, limit int, convert func(record *T, index int, errs *batchErrors) R) ([]R, error) {
	body, err := readJSONBody(r)
	if err != nil {
		return nil, err
	}
	records, err := splitArray(body, limit)
	if err != nil {
		return nil, err
	}
	out := make([]R, len(records))
	parts := min(runtime.GOMAXPROCS(0), 1+len(records)/minDecodePart)
	errs := make([]batchErrors, parts)
	failed := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(records)/parts, (p+1)*len(records)/parts
		wg.Go(func() { failed[p] = decodeRecords(body, records[lo:hi], lo, out[lo:hi], &errs[p], convert) })
	}
	wg.Wait()
	if err := cmp.Or(failed...); err != nil {
		return nil, err
	}
	var all batchErrors
	for _, e := range errs {
		for _, f := range e {
			all.add(f.Index, f.Field, "%s", f.Message)
		}
	}
	return out, all.err()
}

// minDecodePart is the fewest records worth decoding on a goroutine of their own.
const minDecodePart = 2_000

// decodeRecords decodes the records of body at spans, the first of which is
// record first, into out.
func decodeRecords[T, R any](body []byte, spans [][2]int, first int, out []R, errs *batchErrors, convert func(record *T, index int, errs *batchErrors) R) error {
	// One decoder reads the part's records as a stream of values: the spans
	// copied with a space between them in place of the commas.
	// Each record must be exactly one value: the decoder ends where its span
	// does.
	var size int
	for _, s := range spans {
		size += s[1] - s[0] + 1
	}
	stream := make([]byte, 0, size)
	ends := make([]int64, len(spans))
	for k, s := range spans {
		stream = append(append(stream, body[s[0]:s[1]]...), ' ')
		ends[k] = int64(len(stream) - 1)
	}
	dec := json.NewDecoder(bytes.NewReader(stream))
	dec.DisallowUnknownFields()
	names := jsonNames(reflect.TypeFor[T]())
	for k, span := range spans {
		i := first + k
		var record *T // stays nil for a null record
		err := dec.Decode(&record)
		// The decoder reads a whole value before it decodes it, so it has
		// read one unless the error is the syntax's: a record of the wrong
		// type must end where its span does too, or the records that follow
		// would be read from the wrong spans.
		var syntax *json.SyntaxError
		readWhole := !errors.As(err, &syntax) && !errors.Is(err, io.ErrUnexpectedEOF)
		if readWhole && dec.InputOffset() != ends[k] {
			return badRequest("malformed JSON: record %d is followed by more than a comma", i)
		}
		if err != nil {
			var invalid *queries.ValidationError
			var typ *json.UnmarshalTypeError
			switch {
			case errors.As(err, &typ) && typ.Field == "":
				errs.add(i, "(record)", "must be a JSON object")
			case errors.As(jsonError(err), &invalid):
				for _, f := range invalid.Errors {
					errs.add(i, f.Field, "%s", f.Message)
				}
			default:
				return jsonError(err)
			}
			continue
		}
		if record == nil {
			errs.add(i, "(record)", "must be a JSON object")
			continue
		}
		if names != nil {
			if name := inexactMember(body[span[0]:span[1]], names); name != "" {
				errs.add(i, name, "unknown field")
				continue
			}
		}
		out[k] = convert(record, i, errs)
	}
	return nil
}

// splitArray returns where each element of the JSON array body lies, as
// [start, end) byte offsets, checking only the array's own syntax (the
// elements are checked when they are decoded): 422 when body is JSON but
// not an array, 400 when it is not JSON, 413 as soon as element limit+1
// starts.
func splitArray(body []byte, limit int) ([][2]int, error) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '[' {
		if json.Valid(body) { // well formed, but not what this endpoint takes
			return nil, invalid("(body)", "must be a JSON array of records")
		}
		return nil, badRequest("the request body must be a JSON array of records")
	}
	var spans [][2]int
	start, depth, inString := -1, 0, false
	for i++; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		if start < 0 && !isSpace(c) && !(depth == 0 && (c == ',' || c == ']')) {
			if len(spans) == limit {
				return nil, tooLarge("the batch has more than %d records; at most %d are accepted", limit, limit)
			}
			start = i
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth > 0 {
				depth--
				continue
			}
			if c == '}' || (start < 0 && len(spans) > 0) {
				return nil, badRequest("malformed JSON: unexpected %q at byte %d", c, i)
			}
			if start >= 0 {
				spans = append(spans, [2]int{start, trimSpace(body, i)})
			}
			if skipSpace(body, i+1) != len(body) {
				return nil, badRequest("malformed JSON: %v", errTrailingData)
			}
			return spans, nil
		case ',':
			if depth > 0 {
				continue
			}
			if start < 0 {
				return nil, badRequest("malformed JSON: unexpected ',' at byte %d", i)
			}
			spans = append(spans, [2]int{start, trimSpace(body, i)})
			start = -1
		}
	}
	return nil, badRequest("malformed JSON: %v", io.ErrUnexpectedEOF)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace moves end back over the white space before it.
func trimSpace(b []byte, end int) int {
	for end > 0 && isSpace(b[end-1]) {
		end--
	}
	return end
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// required reports a field that is absent or null; it returns whether it is present.
func required[T any](o optional.Field[T], index int, field string, errs *batchErrors) bool {
	if !o.Present() {
		errs.add(index, field, "is required")
		return false
	}
	return true
}

// timestamp parses a timestamp field of a batch record (rules.Timestamp).
func timestamp(s string, index int, field string, errs *batchErrors) time.Time {
	t, err := rules.Timestamp(s)
	if err != nil {
		errs.add(index, field, "%v", err)
	}
	return t
}

// patientRecord is one record of a patients batch, as sent.
type patientRecord struct {
	UID          optional.Field[string] `json:"uid"`
	Name         optional.Field[string] `json:"name"`
	Sex          optional.Field[string] `json:"sex"`
	BirthDate    optional.Field[string] `json:"birth_date"`
	WardID       optional.Field[int64]  `json:"ward_id"`
	AdmittedAt   optional.Field[string] `json:"admitted_at"`
	DischargedAt optional.Field[string] `json:"discharged_at"`
	DiedAt       optional.Field[string] `json:"died_at"`
}

// record validates the record and converts it. Discharge and death are
// checked against admission only within the record: a batch is checked
// without reading what is stored.
func (r *patientRecord) record(i int, errs *batchErrors) queries.PatientRecord {
	rec := queries.PatientRecord{UID: r.UID.Value}
	if required(r.UID, i, "uid", errs) {
		if err := rules.Text(r.UID.Value, rules.CodeMax); err != nil {
			errs.add(i, "uid", "%v", err)
		}
	}
	if r.Name.Present() {
		r.Name.Value = strings.TrimSpace(r.Name.Value)
		if err := rules.Text(r.Name.Value, rules.NameMax); err != nil {
			errs.add(i, "name", "%v", err)
		}
	}
	rec.Name = r.Name
	if r.Sex.Present() {
		if err := rules.Sex(r.Sex.Value); err != nil {
			errs.add(i, "sex", "%v", err)
		}
	}
	rec.Sex = r.Sex
	rec.BirthDate = optional.Map(r.BirthDate, func(s string) time.Time {
		d, err := rules.Date(s)
		if err == nil {
			err = rules.BirthDate(d, time.Now())
		}
		if err != nil {
			errs.add(i, "birth_date", "%v", err)
		}
		return d
	})
	if r.WardID.Present() && r.WardID.Value < 1 {
		errs.add(i, "ward_id", "must be a positive id or null")
	}
	rec.WardID = r.WardID
	rec.AdmittedAt = optional.Map(r.AdmittedAt, func(s string) time.Time { return timestamp(s, i, "admitted_at", errs) })
	rec.DischargedAt = optional.Map(r.DischargedAt, func(s string) time.Time { return timestamp(s, i, "discharged_at", errs) })
	rec.DiedAt = optional.Map(r.DiedAt, func(s string) time.Time { return timestamp(s, i, "died_at", errs) })
	if admitted := rec.AdmittedAt; admitted.Present() {
		if t := rec.DischargedAt; t.Present() && t.Value.Before(admitted.Value) {
			errs.add(i, "discharged_at", "must not be before admitted_at")
		}
		if t := rec.DiedAt; t.Present() && t.Value.Before(admitted.Value) {
			errs.add(i, "died_at", "must not be before admitted_at")
		}
	}
	return rec
}

// bulkPatients upserts a batch of patient records in one statement: absent
// fields are kept, null ones cleared, new uids inserted; all or nothing.
func (s *Server) bulkPatients(c *gin.Context) error {
	records, err := decodeBatch(c.Request, patientsBatchLimit, (*patientRecord).record)
	if err != nil {
		return err
	}
	counts, err := s.store.UpsertPatients(c.Request.Context(), actorOf(c), records)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"received": len(records), "inserted": counts.Inserted, "updated": counts.Updated})
	return nil
}

type patientJSON struct {
	UID               string           `json:"uid"`
	Name              *string          `json:"name"`
	Sex               *string          `json:"sex"`
	BirthDate         *string          `json:"birth_date"`
	WardID            *int64           `json:"ward_id"`
	AdmittedAt        *instant         `json:"admitted_at"`
	DischargedAt      *instant         `json:"discharged_at"`
	DiedAt            *instant         `json:"died_at"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	LatestPredictions []predictionJSON `json:"latest_predictions"`
}

type predictionJSON struct {
	Model        string  `json:"model"`
	Target       string  `json:"target"`
	PredictedAt  instant `json:"predicted_at"`
	HorizonHours int     `json:"horizon_hours"`
	Probability  float64 `json:"probability"`
}

type patientWardJSON struct {
	ID             int64       `json:"id"`
	Name           string      `json:"name"`
	DepartmentPath []crumbJSON `json:"department_path"`
}

// utc shows a stored time in UTC, whatever the server's zone.
func utc(t *time.Time) *instant {
	if t == nil {
		return nil
	}
	return &instant{t.UTC()}
}

func toPatientJSON(p queries.Patient) patientJSON {
	j := patientJSON{UID: p.UID, Name: p.Name, Sex: p.Sex, WardID: p.WardID, AdmittedAt: utc(p.AdmittedAt),
		DischargedAt: utc(p.DischargedAt), DiedAt: utc(p.DiedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		LatestPredictions: make([]predictionJSON, len(p.LatestPredictions))}
	if p.BirthDate != nil {
		d := p.BirthDate.Format(time.DateOnly)
		j.BirthDate = &d
	}
	for i, pr := range p.LatestPredictions {
		j.LatestPredictions[i] = predictionJSON{Model: pr.Model, Target: pr.Target, PredictedAt: instant{pr.PredictedAt.UTC()},
			HorizonHours: pr.HorizonHours, Probability: pr.Probability}
	}
	return j
}

// getPatient serves one patient with its ward, the ward's department path
// and the latest predictions, from one statement.
func (s *Server) getPatient(c *gin.Context) error {
	uid := c.Param("uid")
	if rules.Text(uid, rules.CodeMax) != nil {
		return notFound("no patient has uid %q", uid)
	}
	p, err := s.store.Patient(c.Request.Context(), uid)
	if err != nil {
		return err
	}
	body := struct {
		patientJSON
		Ward *patientWardJSON `json:"ward"`
	}{patientJSON: toPatientJSON(p)}
	if w := p.Ward; w != nil {
		body.Ward = &patientWardJSON{ID: w.ID, Name: w.Name, DepartmentPath: make([]crumbJSON, len(w.DepartmentPath))}
		for i, d := range w.DepartmentPath {
			body.Ward.DepartmentPath[i] = crumbJSON{ID: d.ID, Name: d.Name}
		}
	}
	c.JSON(http.StatusOK, body)
	return nil
}

// wardPatients serves the current inpatients of a ward with their latest
// predictions, from one statement.
func (s *Server) wardPatients(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	patients, err := s.store.WardPatients(c.Request.Context(), id)
	if err != nil {
		return err
	}
	list := make([]patientJSON, len(patients))
	for i, p := range patients {
		list[i] = toPatientJSON(p)
	}
	c.JSON(http.StatusOK, gin.H{"ward_id": id, "patients": list})
	return nil
}
