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

// An Appender item renders the same JSON as one encoding/json marshals.
func TestAppenderItems(t *testing.T) {
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
	got, err := json.Marshal(Build(fastRows, nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

type notObject struct{ plain }

func (notObject) AppendJSON(dst []byte) []byte { return append(dst, "[1]"...) }

func TestAppenderRefusesNonObjects(t *testing.T) {
	if _, err := Build([]notObject{{plain{1, nil}}}, nil)[0].MarshalJSON(); err == nil {
		t.Error("an item appending an array was accepted")
	}
}
