package optional

import (
	"encoding/json"
	"strconv"
	"testing"
)

// jsonInputs are values for a member of every kind Field reads itself and
// then some that only encoding/json may read, or that nothing may.
var jsonInputs = []string{`"plain"`, `""`, `"esc\"aped"`, `"tab\t"`, `"\u00e9"`, `"한국"`, "\"\xff\"", `"a\\b"`,
	`0`, `-0`, `42`, `-42`, `007`, `1e3`, `1E3`, `+1`, `1.5`, `-1.25`, `.5`, `9223372036854775807`, `9223372036854775808`,
	`1_000`, `0x10`, `Infinity`, `NaN`, `true`, `false`, `True`, `null`, `[1]`, `{"a":1}`, `"1"`, `1.0`, `-`, `0.`}

// matchesEncodingJSON decodes each of jsonInputs as a member of type
// Field[T] and as a *T, and wants the same value, or an error from both.
func matchesEncodingJSON[T comparable](t *testing.T) {
	t.Helper()
	member := func(b []byte) []byte { return append(append([]byte(`{"V":`), b...), '}') }
	for _, in := range jsonInputs {
		var o struct{ V Field[T] }
		gotErr := json.Unmarshal(member([]byte(in)), &o)
		var v struct{ V *T }
		wantErr := json.Unmarshal(member([]byte(in)), &v)
		var want T
		if v.V != nil {
			want = *v.V
		}
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && o.V.Value != want {
			t.Errorf("%T %s: got %v, %v; encoding/json %v, %v", want, in, o.V.Value, gotErr, want, wantErr)
		}
	}
}

// Field's fast paths must decode exactly as encoding/json does, and
// refuse what it refuses.
func TestOptionalMatchesEncodingJSON(t *testing.T) {
	matchesEncodingJSON[string](t)
	matchesEncodingJSON[int64](t)
	matchesEncodingJSON[int](t)
	matchesEncodingJSON[float64](t)
	matchesEncodingJSON[bool](t)

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
