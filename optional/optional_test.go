package optional

import (
	"encoding/json"
	"strconv"
	"testing"
)

// Field's fast paths must decode exactly as encoding/json does, and
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
		var o struct{ V Field[string] }
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
		var o struct{ V Field[int64] }
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
		var o struct{ V Field[float64] }
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
		var o struct{ V Field[bool] }
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

	var o struct{ A, B Field[int64] }
	if err := json.Unmarshal([]byte(`{"B":null}`), &o); err != nil || o.A.Set || !o.B.Set || !o.B.Null {
		t.Errorf("absent vs null: %+v, %v", o, err)
	}
}

// A member named twice is its last value, null or not: what the first one
// set does not linger.
func TestFieldRepeatedMember(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Field[string]
	}{
		{"value then null", `{"V":"a","V":null}`, Null[string]()},
		{"null then value", `{"V":null,"V":"b"}`, Of("b")},
		{"value then value", `{"V":"a","V":"b"}`, Of("b")},
		{"absent", `{}`, Field[string]{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o struct{ V Field[string] }
			if err := json.Unmarshal([]byte(tc.body), &o); err != nil || o.V != tc.want {
				t.Errorf("%s: %+v, %v; want %+v", tc.body, o.V, err, tc.want)
			}
		})
	}
}

func TestFieldThenMapPtr(t *testing.T) {
	absent, null, one, two := Field[int]{}, Null[int](), Of(1), Of(2)
	for _, tc := range []struct {
		name         string
		first, later Field[int]
		want         Field[int]
	}{
		{"absent keeps", one, absent, one},
		{"null clears", one, null, null},
		{"value wins", one, two, two},
		{"value after null", null, two, two},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.first.Then(tc.later); got != tc.want {
				t.Errorf("%+v.Then(%+v) = %+v, want %+v", tc.first, tc.later, got, tc.want)
			}
		})
	}
	double := func(n int) string { return strconv.Itoa(2 * n) }
	if got := Map(one, double); got != Of("2") {
		t.Errorf("Map(1) = %+v", got)
	}
	if got := Map(null, double); got != Null[string]() {
		t.Errorf("Map(null) = %+v", got)
	}
	if got := Map(absent, double); got != (Field[string]{}) {
		t.Errorf("Map(absent) = %+v", got)
	}
	if one.Ptr() == nil || *one.Ptr() != 1 || null.Ptr() != nil || absent.Ptr() != nil {
		t.Errorf("Ptr: %v %v %v", one.Ptr(), null.Ptr(), absent.Ptr())
	}
}
