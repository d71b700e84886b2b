package queries

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// sortRows orders a batch exactly as a full sort by (patient, time, code)
// does, whatever order the batch came in.
func TestSortRows(t *testing.T) {
	base := time.Date(2024, 11, 3, 8, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 2, 50, 5000} {
		t.Run(fmt.Sprint(n, " rows"), func(t *testing.T) {
			ids := map[string]int64{}
			rows := make([]observationRow, n)
			for i := range rows {
				uid := fmt.Sprint("p", rand.IntN(7))
				if _, ok := ids[uid]; !ok {
					ids[uid] = rand.Int64N(1000) + int64(len(ids))*1000
				}
				rows[i] = observationRow{ids[uid], fmt.Sprint("c", rand.IntN(3)), base.Add(time.Duration(rand.IntN(50)) * time.Minute), float64(i)}
			}
			if n == 5000 { // a feed's usual order: time-major, already sorted within each patient
				slices.SortFunc(rows, func(x, y observationRow) int {
					return cmp.Or(x.observedAt.Compare(y.observedAt), strings.Compare(x.code, y.code), cmp.Compare(x.patientID, y.patientID))
				})
			}
			want := slices.Clone(rows)
			slices.SortStableFunc(want, func(x, y observationRow) int {
				return cmp.Or(cmp.Compare(x.patientID, y.patientID), x.observedAt.Compare(y.observedAt), strings.Compare(x.code, y.code))
			})
			got := sortRows(rows, ids)
			key := func(r observationRow) string { return fmt.Sprint(r.patientID, r.observedAt.Unix(), r.code) }
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if key(got[i]) != key(want[i]) {
					t.Fatalf("row %d is %s, want %s", i, key(got[i]), key(want[i]))
				}
			}
		})
	}
}
