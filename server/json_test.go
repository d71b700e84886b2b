package server

import (
	"strings"
	"testing"
)

// The nesting bound counts arrays and objects, not brackets inside strings.
func TestJSONTooDeep(t *testing.T) {
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	brackets := strings.Repeat("[{", 40)
	tests := []struct {
		name string
		body string
		deep bool
	}{
		{"at the bound", nested(maxJSONDepth), false},
		{"one past it", nested(maxJSONDepth + 1), true},
		{"objects past it", strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1), true},
		{"brackets in a string", `{"name":"` + brackets + `"}`, false},
		{"after an escaped quote", `{"name":"\"` + brackets + `"}`, false},
		{"after an escaped backslash", `{"name":"\\",` + `"b":` + nested(maxJSONDepth) + `}`, true},
		{"closed as often as opened", strings.Repeat(nested(maxJSONDepth), 3), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonTooDeep([]byte(tt.body)); got != tt.deep {
				t.Errorf("jsonTooDeep = %t, want %t", got, tt.deep)
			}
		})
	}
}

func TestInexactMember(t *testing.T) {
	names := map[string]bool{"name": true, "parent_id": true}
	for _, tt := range []struct{ obj, want string }{
		{`{"name":"a","parent_id":1}`, ""},
		{`{"Name":"a"}`, "Name"},
		{`{"name":"a", "PARENT_ID" : 1}`, "PARENT_ID"},
		{`{"name":{"Deep":1},"parent_id":[{"X":2}]}`, ""},
		{`{"name":"a,\"Name\":1"}`, ""},
		{`{"n\u0061me":"a"}`, ""},
		{`{"N\u0061me":"a"}`, "Name"},
		{`{}`, ""},
	} {
		if got := inexactMember([]byte(tt.obj), names); got != tt.want {
			t.Errorf("inexactMember(%s) = %q, want %q", tt.obj, got, tt.want)
		}
	}
}
