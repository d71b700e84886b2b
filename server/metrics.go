package server

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"canopy/queries"
)

// metrics are the Prometheus series canopy exports. Each Server has its own
// registry, so that servers in one process (as in the tests) do not collide.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	statements *prometheus.HistogramVec
	servedBy   *prometheus.CounterVec
}

func newMetrics(db *queries.DB, replicas *queries.Replicas) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "canopy_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		statements: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "canopy_http_request_sql_statements", Help: "SQL statements run per request, by route: the query budget as served.",
			Buckets: []float64{0, 1, 2, 3, 4, 5, 8, 13, 21, 50, 100},
		}, []string{"route"}),
	}
	m.servedBy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "canopy_http_requests_by_database_total", Help: "HTTP requests that ran SQL, by the pool that ran the last of it: primary, replica-1 ...",
	}, []string{"database"})
	m.registerReplicas(replicas)
	m.reg.MustRegister(m.requests, m.latency, m.statements, m.servedBy,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func(queries.PoolStat) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return f(db.Stat()) }))
	}
	gauge("canopy_db_pool_max_conns", "Largest size of the connection pool.", func(s queries.PoolStat) float64 { return float64(s.MaxConns) })
	gauge("canopy_db_pool_total_conns", "Connections open in the pool.", func(s queries.PoolStat) float64 { return float64(s.TotalConns) })
	gauge("canopy_db_pool_acquired_conns", "Connections in use.", func(s queries.PoolStat) float64 { return float64(s.AcquiredConns) })
	gauge("canopy_db_pool_idle_conns", "Idle connections.", func(s queries.PoolStat) float64 { return float64(s.IdleConns) })
	counter := func(name, help string, f func(queries.PoolStat) float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return f(db.Stat()) }))
	}
	counter("canopy_db_pool_acquires_total", "Connections acquired from the pool.", func(s queries.PoolStat) float64 { return float64(s.Acquires) })
	counter("canopy_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", func(s queries.PoolStat) float64 { return float64(s.EmptyAcquires) })
	counter("canopy_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", func(s queries.PoolStat) float64 { return s.AcquireWait.Seconds() })
	return m
}

// registerStreams reports the event streams open on this instance, by kind:
// the alarm streams and the tree version streams.
func (m *metrics) registerStreams(h *hub) {
	for kind, count := range map[string]func() int{
		"alarms": func() int { a, _ := h.subscribers(); return a },
		"trees":  func() int { _, t := h.subscribers(); return t },
	} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "canopy_event_streams", Help: "Event streams open, by kind.", ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(count()) }))
	}
}

// knownMethods are the HTTP methods that get a label value of their own.
// Any other method a client makes up is counted as "other", and a path no
// route matches as the route "unmatched": labels come from a fixed set, so
// no client can grow /metrics without bound.
var knownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

func (m *metrics) observe(route, method string, status int, elapsed time.Duration, statements int) {
	if !slices.Contains(knownMethods, method) {
		method = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(elapsed.Seconds())
	m.statements.WithLabelValues(route).Observe(float64(statements))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
