package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// Limits of observation requests.
const (
	observationsBatchLimit = 50_000
	hourlyMaxWindow        = 7 * 24 * time.Hour
)

// observationRecord is one record of an observations batch, as sent.
type observationRecord struct {
	PatientUID optional.Field[string]  `json:"patient_uid"`
	Code       optional.Field[string]  `json:"code"`
	ObservedAt optional.Field[string]  `json:"observed_at"`
	Value      optional.Field[float64] `json:"value"`
}

func (r *observationRecord) record(i int, errs *batchErrors) queries.Observation {
	o := queries.Observation{PatientUID: r.PatientUID.Value, Code: r.Code.Value, Value: r.Value.Value}
	if required(r.PatientUID, i, "patient_uid", errs) {
		if err := rules.Text(r.PatientUID.Value, rules.CodeMax); err != nil {
			errs.add(i, "patient_uid", "%v", err)
		}
	}
	if required(r.Code, i, "code", errs) {
		if err := rules.Text(r.Code.Value, rules.CodeMax); err != nil {
			errs.add(i, "code", "%v", err)
		}
	}
	if required(r.ObservedAt, i, "observed_at", errs) {
		o.ObservedAt = timestamp(r.ObservedAt.Value, i, "observed_at", errs)
	}
	if required(r.Value, i, "value", errs) {
		if err := rules.Number(r.Value.Value, -rules.ValueMax, rules.ValueMax); err != nil {
			errs.add(i, "value", "%v", err)
		}
	}
	return o
}

// bulkObservations stores a batch of observations, all or nothing and
// idempotently: a (patient, code, observed_at) already stored is a duplicate.
func (s *Server) bulkObservations(c *gin.Context) error {
	observations, err := decodeBatch(c.Request, observationsBatchLimit, (*observationRecord).record)
	if err != nil {
		return err
	}
	counts, err := s.store.InsertObservations(c.Request.Context(), actorOf(c), observations)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"received": len(observations), "inserted": counts.Inserted, "duplicates": counts.Duplicates})
	return nil
}

type hourlyJSON struct {
	PatientUID string             `json:"patient_uid"`
	Hour       instant            `json:"hour"`
	Values     map[string]float64 `json:"values"`
}

// hourlyObservations serves hourly means per patient and code over a window
// of at most a week, from one statement.
func (s *Server) hourlyObservations(c *gin.Context) error {
	var q queries.HourlyQuery
	var err error
	if q.From, err = queryTime(c, "from"); err != nil {
		return err
	}
	if q.To, err = queryTime(c, "to"); err != nil {
		return err
	}
	if q.WardID, err = queryInt64(c, "ward_id", 1); err != nil {
		return err
	}
	if uid, ok := c.GetQuery("patient_uid"); ok {
		if err := rules.Text(uid, rules.CodeMax); err != nil {
			return invalid("patient_uid", "%v", err)
		}
		q.PatientUID = &uid
	}
	switch {
	case !q.To.After(q.From):
		return invalid("to", "must be after from")
	case q.To.Sub(q.From) > hourlyMaxWindow:
		return invalid("to", "the window from from to to is at most 7 days")
	}
	means, err := s.store.HourlyMeans(c.Request.Context(), q)
	if err != nil {
		return err
	}
	series := make([]hourlyJSON, len(means))
	for i, m := range means {
		series[i] = hourlyJSON{PatientUID: m.PatientUID, Hour: instant{m.Hour}, Values: m.Values}
	}
	c.JSON(http.StatusOK, gin.H{"from": q.From.UTC(), "to": q.To.UTC(), "series": series})
	return nil
}

// queryTime parses a required RFC 3339 query parameter: 400 when it is
// missing or does not parse, 422 outside years 1 to 9999 in UTC. (A "+"
// in a query string is a space: offsets are sent as Z or %2B.)
func queryTime(c *gin.Context, name string) (time.Time, error) {
	raw, ok := c.GetQuery(name)
	if !ok {
		return time.Time{}, badRequest("%s is required: an RFC 3339 timestamp such as 2024-11-03T08:00:00Z", name)
	}
	t, err := rules.Timestamp(raw)
	switch {
	case errors.Is(err, rules.ErrTimestamp):
		return time.Time{}, badRequest("%s %q is not an RFC 3339 timestamp with an offset (Z, or %%2B09:00 in a URL)", name, raw)
	case err != nil:
		return time.Time{}, invalid(name, "%v", err)
	}
	return t, nil
}
