package tree_test

import (
	"encoding/json"
	"strings"
	"testing"

	"canopy/tree"
)

// spaced marshals itself with insignificant whitespace, which must not leak
// into the output.
type spaced struct{}

func (spaced) MarshalJSON() ([]byte, error) { return []byte(` { "a" : 1 } `), nil }

// pointerMarshaler has MarshalJSON on its pointer type only.
type pointerMarshaler struct{}

func (*pointerMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"pointer":true}`), nil }

func leaf[T any](item T) *tree.Node[T] {
	return &tree.Node[T]{Item: item, Children: []*tree.Node[T]{}}
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		node json.Marshaler
		want string
	}{
		{
			name: "leaf",
			node: leaf(row{ID: 1, Name: "a"}),
			want: `{"id":1,"name":"a","children":[]}`,
		},
		{
			name: "leaf with nil Children",
			node: &tree.Node[row]{Item: row{ID: 1}},
			want: `{"id":1,"children":[]}`,
		},
		{
			name: "built tree",
			node: sample()[0],
			want: `{"id":1,"children":[{"id":2,"children":[{"id":4,"children":[]},{"id":5,"children":[]}]},{"id":3,"children":[]}]}`,
		},
		{
			name: "empty object item",
			node: &tree.Node[struct{}]{Children: []*tree.Node[struct{}]{leaf(struct{}{})}},
			want: `{"children":[{"children":[]}]}`,
		},
		{
			name: "map item",
			node: leaf(map[string]int{"b": 2, "a": 1}),
			want: `{"a":1,"b":2,"children":[]}`,
		},
		{
			name: "item whitespace is compacted",
			node: leaf(spaced{}),
			want: `{"a":1,"children":[]}`,
		},
		{
			name: "pointer method of the item",
			node: leaf(pointerMarshaler{}),
			want: `{"pointer":true,"children":[]}`,
		},
		{
			name: "HTML is escaped as by json.Marshal",
			node: leaf(row{ID: 1, Name: "<a&b>"}),
			want: `{"id":1,"name":"\u003ca\u0026b\u003e","children":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.node.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalJSON = %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMarshalJSONNotAnObject(t *testing.T) {
	tests := []struct {
		name string
		node json.Marshaler
	}{
		{"number", leaf(5)},
		{"array", leaf([]int{1})},
		{"string", leaf("{}")},
		{"null pointer", leaf[*row](nil)},
		{"nil map", leaf[map[string]int](nil)},
		{"deep in the tree", &tree.Node[any]{
			Item:     map[string]int{},
			Children: []*tree.Node[any]{leaf[any](row{ID: 1}), leaf[any](true)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.node.MarshalJSON()
			if err == nil {
				t.Fatalf("MarshalJSON = %s, want an error", got)
			}
			if !strings.Contains(err.Error(), "not to a JSON object") {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}

func TestMarshalJSONForest(t *testing.T) {
	got, err := json.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":1,"children":[{"id":2,"children":[{"id":4,"children":[]},{"id":5,"children":[]}]},{"id":3,"children":[]}]},` +
		`{"id":6,"children":[{"id":7,"children":[]}]}]`
	if string(got) != want {
		t.Errorf("json.Marshal(forest) = %s\nwant %s", got, want)
	}

	empty, err := json.Marshal(tree.Build([]row(nil), nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(empty) != "[]" {
		t.Errorf("json.Marshal(empty forest) = %s, want []", empty)
	}
}
