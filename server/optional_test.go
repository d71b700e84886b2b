package server

import (
	"encoding/json"
	"testing"
)

// optional's fast paths must decode exactly as encoding/json does, and
// refuse what it refuses.
func TestOptionalMatchesEncodingJSON(t *testing.T) {
	inputs := []string{`"plain"`, `""`, `"esc\"aped"`, `"tab\t"`, `"\u00e9"`, `"한국"`, "\"\xff\"", `"a\\b"`,
		`0`, `-0`, `42`, `-42`, `007`, `1e3`, `1E3`, `+1`, `1.5`, `-1.25`, `.5`, `9223372036854775807`, `9223372036854775808`,
		`1_000`, `0x10`, `Infinity`, `NaN`, `true`, `false`, `True`, `null`, `[1]`, `{"a":1}`, `"1"`, `1.0`, `-`, `0.`}
	check := func(t *testing.T, name string, decode func([]byte) (any, error), reference func([]byte) (any, error)) {
		for _, in := range inputs {
			got, gotErr := decode([]byte(in))
			want, wantErr := reference([]byte(in))
			if (gotErr == nil) != (wantErr == nil) || gotErr == nil && got != want {
				t.Errorf("%s %s: got %v, %v; encoding/json %v, %v", name, in, got, gotErr, want, wantErr)
			}
		}
	}
	check(t, "string", func(b []byte) (any, error) {
		var o struct{ V optional[string] }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &o)
		return o.V.Value, err
	}, func(b []byte) (any, error) {
		var v struct{ V *string }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &v)
		if v.V == nil {
			return "", err
		}
		return *v.V, err
	})
	check(t, "int64", func(b []byte) (any, error) {
		var o struct{ V optional[int64] }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &o)
		return o.V.Value, err
	}, func(b []byte) (any, error) {
		var v struct{ V *int64 }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &v)
		if v.V == nil {
			return int64(0), err
		}
		return *v.V, err
	})
	check(t, "float64", func(b []byte) (any, error) {
		var o struct{ V optional[float64] }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &o)
		return o.V.Value, err
	}, func(b []byte) (any, error) {
		var v struct{ V *float64 }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &v)
		if v.V == nil {
			return float64(0), err
		}
		return *v.V, err
	})
	check(t, "bool", func(b []byte) (any, error) {
		var o struct{ V optional[bool] }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &o)
		return o.V.Value, err
	}, func(b []byte) (any, error) {
		var v struct{ V *bool }
		err := json.Unmarshal(append(append([]byte(`{"V":`), b...), '}'), &v)
		if v.V == nil {
			return false, err
		}
		return *v.V, err
	})

	var o struct{ A, B optional[int64] }
	if err := json.Unmarshal([]byte(`{"B":null}`), &o); err != nil || o.A.Set || !o.B.Set || !o.B.Null {
		t.Errorf("absent vs null: %+v, %v", o, err)
	}
}
