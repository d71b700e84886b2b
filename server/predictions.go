package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// Limits of prediction requests.
const (
	predictionsBatchLimit = 50_000
	horizonMaxHours       = 8760 // a year
)

// predictionRecord is one record of a predictions batch, as sent.
type predictionRecord struct {
	PatientUID   optional.Field[string]  `json:"patient_uid"`
	Model        optional.Field[string]  `json:"model"`
	Target       optional.Field[string]  `json:"target"`
	PredictedAt  optional.Field[string]  `json:"predicted_at"`
	HorizonHours optional.Field[int]     `json:"horizon_hours"`
	Probability  optional.Field[float64] `json:"probability"`
}

func (r *predictionRecord) record(i int, errs *batchErrors) queries.Prediction {
	p := queries.Prediction{PatientUID: r.PatientUID.Value, Model: r.Model.Value, Target: r.Target.Value,
		HorizonHours: r.HorizonHours.Value, Probability: r.Probability.Value}
	if required(r.PatientUID, i, "patient_uid", errs) {
		if err := rules.Text(r.PatientUID.Value, uidMaxLength); err != nil {
			errs.add(i, "patient_uid", "%v", err)
		}
	}
	for _, f := range []struct {
		name  string
		value optional.Field[string]
	}{{"model", r.Model}, {"target", r.Target}} {
		if required(f.value, i, f.name, errs) {
			if err := rules.Text(f.value.Value, codeTextMaxLength); err != nil {
				errs.add(i, f.name, "%v", err)
			}
		}
	}
	if required(r.PredictedAt, i, "predicted_at", errs) {
		p.PredictedAt = timestamp(r.PredictedAt.Value, i, "predicted_at", errs)
	}
	if required(r.HorizonHours, i, "horizon_hours", errs) && (p.HorizonHours < 0 || p.HorizonHours > horizonMaxHours) {
		errs.add(i, "horizon_hours", "must be between 0 and %d", horizonMaxHours)
	}
	if required(r.Probability, i, "probability", errs) && !(p.Probability >= 0 && p.Probability <= 1) {
		errs.add(i, "probability", "must be between 0 and 1")
	}
	return p
}

// bulkPredictions stores a batch of predictions in one statement,
// idempotently: a (patient, model, target, predicted_at) already stored is a
// duplicate.
func (s *Server) bulkPredictions(c *gin.Context) error {
	predictions, err := decodeBatch(c.Request, predictionsBatchLimit, (*predictionRecord).record)
	if err != nil {
		return err
	}
	counts, err := s.store.InsertPredictions(c.Request.Context(), actorOf(c), predictions)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"received": len(predictions), "inserted": counts.Inserted, "duplicates": counts.Duplicates})
	return nil
}
