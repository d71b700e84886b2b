package queries_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"canopy/queries"
)

func TestInsertPredictions(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	pred := func(uid, model, target string, minutes int, p float64) queries.Prediction {
		return queries.Prediction{PatientUID: uid, Model: model, Target: target, PredictedAt: at(minutes), HorizonHours: 6, Probability: p}
	}
	cases := []struct {
		name   string
		batch  []queries.Prediction
		want   queries.IngestCounts
		stored int
		errs   []int
		field  string // a ValidationError without indexes, from the database
	}{
		{name: "new predictions", batch: []queries.Prediction{pred("p1", "m", "sepsis", 0, 0.1), pred("p1", "m", "death", 0, 0),
			pred("p1", "m2", "sepsis", 0, 1), pred("p2", "m", "sepsis", 0, 0.5)},
			want: queries.IngestCounts{Inserted: 4}, stored: 4},
		{name: "a resent prediction is a duplicate", batch: []queries.Prediction{pred("p1", "m", "sepsis", 0, 0.9), pred("p1", "m", "sepsis", 60, 0.2)},
			want: queries.IngestCounts{Inserted: 1, Duplicates: 1}, stored: 5},
		{name: "repeats within a batch", batch: []queries.Prediction{pred("p3", "m", "sepsis", 0, 0.1), pred("p3", "m", "sepsis", 0, 0.2)},
			want: queries.IngestCounts{Inserted: 1, Duplicates: 1}, stored: 6},
		{name: "unknown patients write nothing", batch: []queries.Prediction{pred("nobody", "m", "x", 0, 0.1), pred("p4", "m", "x", 0, 0.1), pred("", "m", "x", 0, 0.1)},
			stored: 6, errs: []int{0, 2}},
		{name: "the database refuses a probability over 1", batch: []queries.Prediction{pred("p4", "m", "x", 0, 1.5)},
			stored: 6, field: "probability"},
		{name: "empty batch", batch: nil, stored: 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counts, err := f.s.InsertPredictions(ctx, queries.Actor{}, c.batch)
			switch {
			case c.field != "":
				wantErr(t, err, nil, c.field)
			case c.errs != nil:
				var ve *queries.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var got []int
				for _, e := range ve.Errors {
					got = append(got, e.Index)
				}
				if !slices.Equal(got, c.errs) || ve.Errors[0].Field != "patient_uid" {
					t.Errorf("errors %+v, want patient_uid at %v", ve.Errors, c.errs)
				}
			case err != nil:
				t.Fatal(err)
			case counts != c.want:
				t.Errorf("counts %+v, want %+v", counts, c.want)
			}
			var n int
			if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM predictions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != c.stored {
				t.Errorf("%d rows stored, want %d", n, c.stored)
			}
		})
	}
}
