// Package optional holds Field, a field that a record may leave out, carry
// as null, or carry with a value: a PATCH, a feed's partial record and an
// imported row keep what they leave out and clear what they carry as null.
// The API reads it from JSON (a missing member, null, a value) and the
// importer from CSV cells and NDJSON members, and queries writes it, all
// with this one type. It imports nothing of canopy's.
package optional

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Field is one field of a record. The zero Field is absent.
type Field[T any] struct {
	Set   bool // carried, as null or as a value
	Null  bool // carried as null
	Value T    // what was carried; the zero value when absent or null
}

// Of is a field carried with the value v.
func Of[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Null is a field carried as null.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// Present says the field was carried with a value.
func (f Field[T]) Present() bool { return f.Set && !f.Null }

// Ptr is the value, or nil when the field is absent or null.
func (f Field[T]) Ptr() *T {
	if !f.Present() {
		return nil
	}
	v := f.Value
	return &v
}

// Then is f followed by a later record's field: the later one when it was
// carried (null included), f when it was left out.
func (f Field[T]) Then(later Field[T]) Field[T] {
	if later.Set {
		return later
	}
	return f
}

// Map converts a carried value with fn, and keeps absent and null as they are.
func Map[T, U any](f Field[T], fn func(T) U) Field[U] {
	if !f.Present() {
		return Field[U]{Set: f.Set, Null: f.Null}
	}
	return Of(fn(f.Value))
}

// UnmarshalJSON reads plain strings, integers, floats and booleans itself,
// since bulk bodies hold hundreds of thousands of them and json.Unmarshal per
// field was most of their cost; anything else (escapes, exponents, other
// types) goes to encoding/json, so the result is always the same.
func (o *Field[T]) UnmarshalJSON(b []byte) error {
	// A member named twice is read as its last value, null or not: what an
	// earlier one set is forgotten.
	*o = Field[T]{Set: true}
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	switch v := any(&o.Value).(type) {
	case *string:
		if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && plainString(b[1:len(b)-1]) {
			*v = string(b[1 : len(b)-1])
			return nil
		}
	case *int64:
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil && plainNumber(b) {
			*v = n
			return nil
		}
	case *int:
		if n, err := strconv.ParseInt(string(b), 10, 0); err == nil && plainNumber(b) {
			*v = int(n)
			return nil
		}
	case *float64:
		if f, err := strconv.ParseFloat(string(b), 64); err == nil && plainNumber(b) {
			*v = f
			return nil
		}
	case *bool:
		switch string(b) {
		case "true":
			*v = true
			return nil
		case "false":
			*v = false
			return nil
		}
	}
	return json.Unmarshal(b, &o.Value)
}

// plainString: no escapes, no control characters and only ASCII, so the
// bytes between the quotes are the string (multi-byte text takes the careful
// path, which also replaces invalid UTF-8 as encoding/json does).
func plainString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '\\' || c == '"' || c >= 0x80 {
			return false
		}
	}
	return true
}

// plainNumber: a JSON number strconv reads the same way: digits, one
// leading minus, a decimal point; no exponent, no leading plus or zeros.
func plainNumber(b []byte) bool {
	if len(b) == 0 || bytes.ContainsAny(b, "eE+_xXoObBiInN") {
		return false
	}
	digits := b
	if digits[0] == '-' {
		digits = digits[1:]
	}
	return len(digits) > 0 && digits[0] >= '0' && digits[0] <= '9' && (digits[0] != '0' || len(digits) == 1 || digits[1] == '.')
}
