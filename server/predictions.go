package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// predictionsBatchLimit bounds the records of a predictions batch.
const predictionsBatchLimit = 50_000

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
		if err := rules.Text(r.PatientUID.Value, rules.CodeMax); err != nil {
			errs.add(i, "patient_uid", "%v", err)
		}
	}
	for _, f := range []struct {
		name  string
		value optional.Field[string]
	}{{"model", r.Model}, {"target", r.Target}} {
		if required(f.value, i, f.name, errs) {
			if err := rules.Text(f.value.Value, rules.CodeMax); err != nil {
				errs.add(i, f.name, "%v", err)
			}
		}
	}
	if required(r.PredictedAt, i, "predicted_at", errs) {
		p.PredictedAt = timestamp(r.PredictedAt.Value, i, "predicted_at", errs)
	}
	if required(r.HorizonHours, i, "horizon_hours", errs) {
		if err := rules.Int(int64(p.HorizonHours), 0, rules.HorizonMax); err != nil {
			errs.add(i, "horizon_hours", "%v", err)
		}
	}
	if required(r.Probability, i, "probability", errs) {
		if err := rules.Number(p.Probability, 0, 1); err != nil {
			errs.add(i, "probability", "%v", err)
		}
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
