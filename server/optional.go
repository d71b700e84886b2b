package server

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// optional is a JSON field that tells "absent" (Set false) from "null"
// (Set and Null) from a value: a PATCH or a partial record must keep what it
// does not name and clear what it names as null.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON reads plain strings, integers, floats and booleans itself,
// since bulk bodies hold hundreds of thousands of them and json.Unmarshal per
// field was most of their cost; anything else (escapes, exponents, other
// types) goes to encoding/json, so the result is always the same.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	// A member named twice is read as its last value, null or not: what an
	// earlier one set is forgotten.
	*o = optional[T]{Set: true}
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

// ptr is the value, or nil when the field is absent or null.
func (o optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}
