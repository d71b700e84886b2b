package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"canopy/queries"
	"canopy/rules"
)

// decodeJSON reads the request body into v. Malformed JSON, invalid UTF-8 and
// trailing data are 400; a well-formed body with an unknown field or a value
// of the wrong type is 422; a body over the limit is 413.
func decodeJSON(r *http.Request, v any) error {
	body, err := readJSONBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the request body is empty; a JSON document is required")
	}
	if string(bytes.TrimSpace(body)) == "null" {
		// encoding/json would decode null as nothing at all, leaving v as it was.
		return invalid("(body)", "must be a JSON object or array, not null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: %v", errTrailingData)
	}
	if names := jsonNames(reflect.TypeOf(v).Elem()); names != nil {
		if name := inexactMember(body, names); name != "" {
			return &queries.ValidationError{Errors: []queries.FieldError{{Index: -1, Field: name, Message: "unknown field"}}}
		}
	}
	return nil
}

// maxJSONDepth bounds how deeply a request body may nest arrays and
// objects. canopy's bodies need three levels (a batch, a record, a list of
// scopes); the bound is far above that and far below the 10,000 levels
// encoding/json would otherwise walk through.
const maxJSONDepth = 32

// readJSONBody is the request body, the one way every JSON body comes in
// (read whole by readBody), refused (400) before any decoding when it is not
// valid UTF-8 or nests deeper than maxJSONDepth.
func readJSONBody(r *http.Request) ([]byte, error) {
	var body []byte
	if read, ok := r.Body.(bodyRead); ok {
		body = read.data
	} else { // a request that did not pass the middleware, as in fuzz tests
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, badRequest("the request body could not be read: %v", err)
		}
	}
	if !utf8.Valid(body) {
		return nil, badRequest("the request body is not valid UTF-8")
	}
	if jsonTooDeep(body) {
		return nil, badRequest("the request body nests arrays and objects more than %d levels deep", maxJSONDepth)
	}
	if rules.LoneSurrogate(body) {
		return nil, badRequest("the request body escapes half of a UTF-16 surrogate pair (\\uD800 to \\uDFFF) without its other half: that is no character")
	}
	return body, nil
}

// jsonTooDeep reports whether body opens more than maxJSONDepth arrays and
// objects at once, skipping brackets inside strings. It reads bytes, not
// tokens: malformed JSON is left to the decoder to report.
func jsonTooDeep(body []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, b := range body {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = b == '\\'
			inString = b != '"'
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			if depth++; depth > maxJSONDepth {
				return true
			}
		case b == ']' || b == '}':
			depth--
		}
	}
	return false
}

// jsonError sorts a decoding error into bad syntax (400) and a wrong or
// unknown field (422).
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: %v", err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return invalid(field, "must be %s, not JSON %s", jsonKind(typ.Type), typ.Value)
	}
	// encoding/json reports an unknown field only as text; this is the one
	// place that reads it.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &queries.ValidationError{Errors: []queries.FieldError{{Index: -1, Field: strings.Trim(name, `"`), Message: "unknown field"}}}
	}
	return badRequest("malformed JSON: %v", err)
}

// instant is a time as a response writes it: RFC 3339. A time stored
// outside RFC 3339's years 0 to 9999 (by SQL from outside canopy, which
// refuses such input) is written in UTC with ISO 8601's expanded year,
// "+010000-01-01T00:00:00Z", as JavaScript reads it, so that one stored row
// cannot make a whole list fail to encode.
type instant struct{ time.Time }

func (t instant) MarshalJSON() ([]byte, error) {
	if b, err := t.Time.MarshalJSON(); err == nil {
		return b, nil
	}
	u := t.UTC()
	return fmt.Appendf(nil, `"%+07d%s"`, u.Year(), u.Format("-01-02T15:04:05.999999999Z07:00")), nil
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

var errTrailingData = errors.New("trailing data after the JSON value")

// jsonKind names what JSON value decodes into t, in the words of a client
// who never saw canopy's Go types.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	}
	return "a value of another type"
}

// jsonNames are the member names encoding/json decodes struct type t from,
// by its fields' json tags; nil when t is not a struct.
func jsonNames(t reflect.Type) map[string]bool {
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names[f.Name] = true
		default:
			names[name] = true
		}
	}
	return names
}

// inexactMember is the first member of the JSON object obj (already
// decoded, so well formed) whose name is not one of names as written, or
// "". encoding/json matches names whatever their case, so {"Name": ...}
// would pass for {"name": ...}: an unknown field all the same.
func inexactMember(obj []byte, names map[string]bool) string {
	depth, key := 0, false
	for i := 0; i < len(obj); i++ {
		switch c := obj[i]; {
		case c == '"':
			j := i + 1
			for j < len(obj) && obj[j] != '"' {
				if obj[j] == '\\' {
					j++
				}
				j++
			}
			if depth == 1 && key {
				name := string(obj[i+1 : j])
				if bytes.IndexByte(obj[i+1:j], '\\') >= 0 {
					_ = json.Unmarshal(obj[i:j+1], &name)
				}
				if !names[name] {
					return name
				}
				key = false
			}
			i = j
		case c == '{' || c == '[':
			depth++
			key = depth == 1 && c == '{'
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 1:
			key = true
		}
	}
	return ""
}
