package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics counts requests by route pattern (never by raw path, which would
// let clients create unbounded series) and status, with a latency histogram.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mail     *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multinexo_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "multinexo_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multinexo_mail_attempts_total", Help: "Delivery attempts of outbox messages by this instance, by result: sent, retry, failed.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.mail, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
	w.ResponseWriter.WriteHeader(c)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap instruments the mux; the route is the pattern the mux matched.
func (m *metrics) wrap(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &codeWriter{ResponseWriter: w}
		mux.ServeHTTP(cw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if cw.code == 0 {
			cw.code = 200
		}
		m.requests.WithLabelValues(route, strconv.Itoa(cw.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// watchStore exports whether the store's writes are failing for a reason of
// the database itself (disk full, database lost): 1 from the first such
// failure until a write succeeds again (see sqlstore's noteWrite). The
// failed requests themselves are the 503s of multinexo_http_requests_total.
func (m *metrics) watchStore(writeFailing func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "multinexo_store_writes_failing",
		Help: "1 while the database's writes fail (disk full, database lost), else 0.",
	}, func() float64 {
		if writeFailing() {
			return 1
		}
		return 0
	}))
}

// mailAttempt counts one delivery attempt.
func (m *metrics) mailAttempt(result string) { m.mail.WithLabelValues(result).Inc() }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
