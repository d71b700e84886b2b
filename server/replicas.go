package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"canopy/queries"
)

// served counts a request by the pool that ran its SQL, if it ran any.
func (m *metrics) served(pool string) {
	if pool != "" {
		m.servedBy.WithLabelValues(pool).Inc()
	}
}

// registerReplicas exports each replica's health and lag as the checker last
// found them.
func (m *metrics) registerReplicas(r *queries.Replicas) {
	if r == nil {
		return
	}
	for i, st := range r.Status() {
		labels := prometheus.Labels{"replica": st.Name}
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "canopy_db_replica_healthy", Help: "1 while GET requests may read from the replica.", ConstLabels: labels,
		}, func() float64 {
			if r.Status()[i].Healthy {
				return 1
			}
			return 0
		}))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "canopy_db_replica_lag_seconds", Help: "How far the replica trailed the primary at the last check; -1 when unknown.", ConstLabels: labels,
		}, func() float64 {
			if lag := r.Status()[i].Lag; lag >= 0 {
				return lag.Seconds()
			}
			return -1
		}))
	}
}
