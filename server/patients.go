package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// patientsBatchLimit bounds the records of a patients batch.
const patientsBatchLimit = 10_000

// patientRecord is one record of a patients batch, as sent.
type patientRecord struct {
	UID          optional.Field[string] `json:"uid"`
	Name         optional.Field[string] `json:"name"`
	Sex          optional.Field[string] `json:"sex"`
	BirthDate    optional.Field[string] `json:"birth_date"`
	WardID       optional.Field[int64]  `json:"ward_id"`
	AdmittedAt   optional.Field[string] `json:"admitted_at"`
	DischargedAt optional.Field[string] `json:"discharged_at"`
	DiedAt       optional.Field[string] `json:"died_at"`
}

// record validates the record and converts it. Discharge and death are
// checked against admission only within the record: a batch is checked
// without reading what is stored.
func (r *patientRecord) record(i int, errs *batchErrors) queries.PatientRecord {
	rec := queries.PatientRecord{UID: r.UID.Value}
	if required(r.UID, i, "uid", errs) {
		if err := rules.Text(r.UID.Value, rules.CodeMax); err != nil {
			errs.add(i, "uid", "%v", err)
		}
	}
	if r.Name.Present() {
		r.Name.Value = strings.TrimSpace(r.Name.Value)
		if err := rules.Text(r.Name.Value, rules.NameMax); err != nil {
			errs.add(i, "name", "%v", err)
		}
	}
	rec.Name = r.Name
	if r.Sex.Present() {
		if err := rules.Sex(r.Sex.Value); err != nil {
			errs.add(i, "sex", "%v", err)
		}
	}
	rec.Sex = r.Sex
	rec.BirthDate = optional.Map(r.BirthDate, func(s string) time.Time {
		d, err := rules.Date(s)
		if err == nil {
			err = rules.BirthDate(d, time.Now())
		}
		if err != nil {
			errs.add(i, "birth_date", "%v", err)
		}
		return d
	})
	if r.WardID.Present() && r.WardID.Value < 1 {
		errs.add(i, "ward_id", "must be a positive id or null")
	}
	rec.WardID = r.WardID
	rec.AdmittedAt = optional.Map(r.AdmittedAt, func(s string) time.Time { return timestamp(s, i, "admitted_at", errs) })
	rec.DischargedAt = optional.Map(r.DischargedAt, func(s string) time.Time { return timestamp(s, i, "discharged_at", errs) })
	rec.DiedAt = optional.Map(r.DiedAt, func(s string) time.Time { return timestamp(s, i, "died_at", errs) })
	if admitted := rec.AdmittedAt; admitted.Present() {
		if t := rec.DischargedAt; t.Present() && t.Value.Before(admitted.Value) {
			errs.add(i, "discharged_at", "must not be before admitted_at")
		}
		if t := rec.DiedAt; t.Present() && t.Value.Before(admitted.Value) {
			errs.add(i, "died_at", "must not be before admitted_at")
		}
	}
	return rec
}

// bulkPatients upserts a batch of patient records in one statement: absent
// fields are kept, null ones cleared, new uids inserted; all or nothing.
func (s *Server) bulkPatients(c *gin.Context) error {
	records, err := decodeBatch(c.Request, patientsBatchLimit, (*patientRecord).record)
	if err != nil {
		return err
	}
	counts, err := s.store.UpsertPatients(c.Request.Context(), actorOf(c), records)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"received": len(records), "inserted": counts.Inserted, "updated": counts.Updated})
	return nil
}

type patientJSON struct {
	UID               string           `json:"uid"`
	Name              *string          `json:"name"`
	Sex               *string          `json:"sex"`
	BirthDate         *string          `json:"birth_date"`
	WardID            *int64           `json:"ward_id"`
	AdmittedAt        *instant         `json:"admitted_at"`
	DischargedAt      *instant         `json:"discharged_at"`
	DiedAt            *instant         `json:"died_at"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	LatestPredictions []predictionJSON `json:"latest_predictions"`
}

type predictionJSON struct {
	Model        string  `json:"model"`
	Target       string  `json:"target"`
	PredictedAt  instant `json:"predicted_at"`
	HorizonHours int     `json:"horizon_hours"`
	Probability  float64 `json:"probability"`
}

type patientWardJSON struct {
	ID             int64       `json:"id"`
	Name           string      `json:"name"`
	DepartmentPath []crumbJSON `json:"department_path"`
}

// utc shows a stored time in UTC, whatever the server's zone.
func utc(t *time.Time) *instant {
	if t == nil {
		return nil
	}
	return &instant{t.UTC()}
}

func toPatientJSON(p queries.Patient) patientJSON {
	j := patientJSON{UID: p.UID, Name: p.Name, Sex: p.Sex, WardID: p.WardID, AdmittedAt: utc(p.AdmittedAt),
		DischargedAt: utc(p.DischargedAt), DiedAt: utc(p.DiedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		LatestPredictions: make([]predictionJSON, len(p.LatestPredictions))}
	if p.BirthDate != nil {
		d := p.BirthDate.Format(time.DateOnly)
		j.BirthDate = &d
	}
	for i, pr := range p.LatestPredictions {
		j.LatestPredictions[i] = predictionJSON{Model: pr.Model, Target: pr.Target, PredictedAt: instant{pr.PredictedAt.UTC()},
			HorizonHours: pr.HorizonHours, Probability: pr.Probability}
	}
	return j
}

// getPatient serves one patient with its ward, the ward's department path
// and the latest predictions, from one statement.
func (s *Server) getPatient(c *gin.Context) error {
	uid := c.Param("uid")
	if rules.Text(uid, rules.CodeMax) != nil {
		return notFound("no patient has uid %q", uid)
	}
	p, err := s.store.Patient(c.Request.Context(), uid)
	if err != nil {
		return err
	}
	body := struct {
		patientJSON
		Ward *patientWardJSON `json:"ward"`
	}{patientJSON: toPatientJSON(p)}
	if w := p.Ward; w != nil {
		body.Ward = &patientWardJSON{ID: w.ID, Name: w.Name, DepartmentPath: make([]crumbJSON, len(w.DepartmentPath))}
		for i, d := range w.DepartmentPath {
			body.Ward.DepartmentPath[i] = crumbJSON{ID: d.ID, Name: d.Name}
		}
	}
	c.JSON(http.StatusOK, body)
	return nil
}

// wardPatients serves the current inpatients of a ward with their latest
// predictions, from one statement.
func (s *Server) wardPatients(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	patients, err := s.store.WardPatients(c.Request.Context(), id)
	if err != nil {
		return err
	}
	list := make([]patientJSON, len(patients))
	for i, p := range patients {
		list[i] = toPatientJSON(p)
	}
	c.JSON(http.StatusOK, gin.H{"ward_id": id, "patients": list})
	return nil
}
