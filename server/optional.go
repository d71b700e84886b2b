package server

import "encoding/json"

// optional is a JSON field that tells "absent" (Set false) from "null"
// (Set and Null) from a value: a PATCH must keep what it does not name and
// clear what it names as null.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr is the value, or nil when the field is absent or null.
func (o optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}
