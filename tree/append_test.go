package tree

import (
	"encoding/json"
	"strconv"
	"testing"
)

// plain marshals through encoding/json; fast appends the same object itself.
type plain struct {
	ID     int  `json:"id"`
	Parent *int `json:"parent"`
}

func (p plain) Key() int { return p.ID }
func (p plain) ParentKey() (int, bool) {
	if p.Parent == nil {
		return 0, false
	}
	return *p.Parent, true
}

type fast struct{ plain }

func (f fast) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, int64(f.ID), 10)
	dst = append(dst, `,"parent":`...)
	if f.Parent == nil {
		return append(dst, "null}"...)
	}
	return append(strconv.AppendInt(dst, int64(*f.Parent), 10), '}')
}

func TestAppendForest(t *testing.T) {
	one, two := 1, 2
	rows := []plain{{1, nil}, {2, &one}, {3, &two}, {4, &one}, {5, nil}}
	fastRows := make([]fast, len(rows))
	for i, r := range rows {
		fastRows[i] = fast{r}
	}
	want, err := json.Marshal(Build(rows, nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]func() ([]byte, error){
		"encoding/json items": func() ([]byte, error) { return AppendForest([]byte("x"), Build(rows, nil)) },
		"appending items":     func() ([]byte, error) { return AppendForest([]byte("x"), Build(fastRows, nil)) },
	} {
		t.Run(name, func(t *testing.T) {
			b, err := got()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != "x"+string(want) {
				t.Errorf("got  %s\nwant x%s", b, want)
			}
		})
	}
	empty, err := AppendForest(nil, Build([]fast{}, nil))
	if err != nil || string(empty) != "[]" {
		t.Errorf("empty forest: %s, %v", empty, err)
	}
}

type notObject struct{ plain }

func (notObject) AppendJSON(dst []byte) []byte { return append(dst, "[1]"...) }

func TestAppendForestRefusesNonObjects(t *testing.T) {
	if _, err := AppendForest(nil, Build([]notObject{{plain{1, nil}}}, nil)); err == nil {
		t.Error("an item appending an array was accepted")
	}
}
