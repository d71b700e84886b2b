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
	"sync"
	"time"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

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

// decodeBatch is how every bulk endpoint (patients, observations,
// predictions, articles) reads its body: a JSON array of records, each
// decoded into T with unknown fields refused and converted. Records that do
// not decode (an unknown field, a value of the wrong type, not an object)
// are collected with their index as validation errors, the first
// queries.MaxFieldErrors of them. Malformed JSON is 400; more than limit
// records is 413, found before any record is decoded.
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
		errs.add(index, field, "%v", rules.ErrRequired)
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
