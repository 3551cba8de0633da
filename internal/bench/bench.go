// Package bench is the load generator behind `multinexo bench`: it drives a
// running server through its public endpoints, scenario by scenario, for a
// bounded time and a bounded number of requests, and reports requests per
// second and latency percentiles.
//
// Load model: by default a closed loop — Concurrency workers, each with its
// own keep-alive connection, sending the next request as soon as the previous
// answer arrived (what "64 connections" means in the performance targets).
// With Rate > 0 it is an open loop instead: requests are scheduled at a fixed
// rate, at most Concurrency in flight, and each latency is measured from the
// request's scheduled time, so a server that falls behind shows it in the
// percentiles (no coordinated omission).
//
// The HTTP client is a minimal HTTP/1.1 implementation (conn.go): the load
// generator runs on the same CPUs as the server it measures, and every
// microsecond it spends is taken from the server.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Scenario names.
const (
	ScenarioClientCredentials = "client-credentials"
	// ScenarioClientCredentialsResource: the same with an RFC 8707
	// resource (Config.Resource), so aud is that resource.
	ScenarioClientCredentialsResource = "client-credentials-resource"
	ScenarioPassword                  = "password"
	ScenarioRefresh                   = "refresh"
	ScenarioIntrospect                = "introspect"
	ScenarioUserinfo                  = "userinfo"
	ScenarioUsersMe                   = "users-me"
	ScenarioAuthorizationCode         = "authorization-code"
	ScenarioPasswordFlood             = "password-flood"
)

// Scenarios lists every scenario in the order they run by default.
// password-flood is left out of the default run (it is an overload test).
var Scenarios = []string{
	ScenarioClientCredentials, ScenarioClientCredentialsResource, ScenarioRefresh, ScenarioIntrospect, ScenarioUserinfo,
	ScenarioUsersMe, ScenarioPassword, ScenarioAuthorizationCode,
}

// AllScenarios are every scenario accepted.
var AllScenarios = append(slices.Clone(Scenarios), ScenarioPasswordFlood)

// Config configures a run. Zero values take the defaults noted.
type Config struct {
	Target      string        // base URL of the server, e.g. http://127.0.0.1:8080
	Scenarios   []string      // default: Scenarios
	Duration    time.Duration // per scenario; default 10s
	Warmup      time.Duration // unmeasured load before each scenario; default 0
	Concurrency int           // workers (connections); default 64
	Rate        float64       // requests/s (open loop); 0: closed loop
	// MaxRequests caps the requests of one scenario (default 5,000,000), so
	// a run is bounded even against a server faster than expected.
	MaxRequests int64
	// FloodConcurrency is the number of wrong-password workers of the
	// password-flood scenario (default 500).
	FloodConcurrency int
	Timeout          time.Duration // per request; default 10s

	// The client used by every scenario: confidential, with the grants
	// client_credentials, password and refresh_token (and
	// authorization_code with RedirectURI for that scenario).
	ClientID, ClientSecret string
	RedirectURI            string
	// Resource is a registered protected resource for
	// client-credentials-resource.
	Resource string
	// Username/Password: an existing user for the user scenarios. Empty:
	// one is registered through POST /v1/users, or with CreateUser when the
	// registration is refused (rate limit).
	Username, Password string
	// Scope of the user tokens (password, refresh, introspect, userinfo,
	// users-me, authorization-code); default "openid profile email". With
	// openid every token response carries an ID token (RS256 by default,
	// the costliest signature).
	Scope      string
	CreateUser func(ctx context.Context, email, password string) error
	// OnUser, if set, is told the email of a user the bench registered.
	OnUser func(email string)

	// ServerPID, if set, is sampled for resident memory (Linux /proc).
	ServerPID int

	Progress io.Writer // live progress; nil: none
	// ProgressTTY: rewrite one line with \r (a terminal); otherwise a line
	// every ProgressEvery (default 1s; 250ms on a terminal).
	ProgressTTY   bool
	ProgressEvery time.Duration
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string        `json:"scenario"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	Refused  int64         `json:"refused"` // 429/503 with Retry-After (overload answers)
	Duration time.Duration `json:"duration_ns"`
	RPS      float64       `json:"requests_per_second"`
	P50      time.Duration `json:"p50_ns"`
	P90      time.Duration `json:"p90_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
	// ErrorKinds counts errors by kind (status code or error text), at most
	// a few kinds.
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	// ServerRSSMaxKB is the largest resident size of ServerPID seen during
	// the scenario (0: not sampled); ServerRSSKB its size at the end.
	ServerRSSMaxKB int64  `json:"server_rss_max_kb,omitempty"`
	ServerRSSKB    int64  `json:"server_rss_kb,omitempty"`
	Note           string `json:"note,omitempty"`
}

func (c *Config) defaults() error {
	if c.Target == "" {
		c.Target = "http://127.0.0.1:8080"
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(AllScenarios, ", "))
		}
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 5_000_000
	}
	if c.FloodConcurrency <= 0 {
		c.FloodConcurrency = 500
	}
	if c.Scope == "" {
		c.Scope = "openid profile email"
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
		if c.ProgressTTY {
			c.ProgressEvery = 250 * time.Millisecond
		}
	}
	if c.Rate < 0 {
		return errors.New("rate must not be negative")
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return errors.New("a confidential client is required (client id and secret)")
	}
	return nil
}

// Run runs every scenario of cfg in turn and returns their results. It stops
// early when ctx ends (the results so far are returned with ctx's error).
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	target, err := url.Parse(strings.TrimSuffix(cfg.Target, "/"))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("target %q: want an http or https URL", cfg.Target)
	}
	e := &env{cfg: &cfg, target: target, http: &http.Client{
		Timeout: cfg.Timeout,
		// The authorization-code scenario reads redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	var out []Result
	for _, name := range cfg.Scenarios {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		groups, err := e.scenario(ctx, name)
		if err != nil {
			return out, fmt.Errorf("%s: setup: %w", name, err)
		}
		// No warm-up for the flood: it would lock the address before the
		// refreshing workers log in.
		if cfg.Warmup > 0 && name != ScenarioPasswordFlood {
			e.run(ctx, name+" (warm-up)", groups, cfg.Warmup, nil)
		}
		res := e.run(ctx, name, groups, cfg.Duration, cfg.Progress)
		out = append(out, res...)
	}
	return out, ctx.Err()
}

// outcome of one request.
type outcome uint8

const (
	ok outcome = iota
	refused
	failed
	stop // the worker ends; nothing is recorded
)

// once returns s for the first call and stop afterwards.
func once(s stepFunc) stepFunc {
	done := false
	return func(ctx context.Context, c *conn) (outcome, string) {
		if done {
			return stop, ""
		}
		done = true
		return s(ctx, c)
	}
}

// stepFunc sends one request on c. kind names a failure ("401", "connect:
// ...") for the error summary.
type stepFunc func(ctx context.Context, c *conn) (o outcome, kind string)

// group is a set of identical workers; a scenario is one group, or two
// running together (password-flood).
type group struct {
	name    string
	workers int
	paced   bool // follows Config.Rate
	newStep func(ctx context.Context, i int) (stepFunc, error)
	note    string
}

type workerStats struct {
	lat     []uint32 // microseconds
	errors  int64
	refused int64
	kinds   map[string]int64
}

type groupRun struct {
	g       group
	stats   []*workerStats
	count   atomic.Int64 // requests finished
	errs    atomic.Int64
	started atomic.Int64 // requests started, for the cap
}

// run runs groups against the server for d: each group's workers loop on
// their step (paced when the group is and --rate is set) until the end or
// --max-requests, while progress shows a line per ProgressEvery.
func (e *env) run(ctx context.Context, name string, groups []group, d time.Duration, progress io.Writer) []Result {
	cfg := e.cfg
	runs, steps := e.prepare(ctx, groups)

	start := time.Now()
	end := start.Add(d)
	rctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	// over reports the end of the run. The clock decides, not rctx.Err():
	// connection deadlines fire at end, slightly before the context's timer,
	// and a failure after end is the run's cut-off, not the server's fault.
	over := func() bool { return rctx.Err() != nil || !time.Now().Before(end) }
	var pace chan time.Time
	if cfg.Rate > 0 {
		pace = pacer(rctx, start, cfg.Rate)
	}

	var rss rssSampler
	rss.pid = cfg.ServerPID
	var wg sync.WaitGroup
	for gi, gr := range runs {
		for i, step := range steps[gi] {
			w := worker{gr: gr, step: step, st: gr.stats[i], c: newConn(e.target, cfg.Timeout), over: over, max: cfg.MaxRequests}
			if gr.g.paced {
				w.pace = pace
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.loop(rctx)
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	e.watch(done, name, runs, start, &rss, progress)
	elapsed := time.Since(start)
	rss.sample()

	out := make([]Result, 0, len(runs))
	for _, gr := range runs {
		out = append(out, gr.result(elapsed, &rss))
	}
	return out
}

// prepare makes each group's workers' steps and statistics. A step whose
// setup fails reports it once and stops its worker (instead of failing in
// a loop).
func (e *env) prepare(ctx context.Context, groups []group) ([]*groupRun, [][]stepFunc) {
	runs := make([]*groupRun, len(groups))
	var steps [][]stepFunc
	for gi, g := range groups {
		gr := &groupRun{g: g}
		runs[gi] = gr
		var ss []stepFunc
		for i := range g.workers {
			s, err := g.newStep(ctx, i)
			if err != nil {
				msg := "setup: " + errKind(err)
				s = once(func(context.Context, *conn) (outcome, string) { return failed, msg })
			}
			ss = append(ss, s)
			gr.stats = append(gr.stats, &workerStats{kinds: map[string]int64{}})
		}
		steps = append(steps, ss)
	}
	return runs, steps
}

// pacer sends the scheduled start of each request at rate per second from
// start, until ctx ends (open-loop load: a slow answer does not delay the
// next request's schedule, and latency counts from the schedule).
func pacer(ctx context.Context, start time.Time, rate float64) chan time.Time {
	pace := make(chan time.Time)
	go func() {
		interval := time.Duration(float64(time.Second) / rate)
		next := start
		for {
			next = next.Add(interval)
			if w := time.Until(next); w > 0 {
				t := time.NewTimer(w)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			select {
			case pace <- next:
			case <-ctx.Done():
				return
			}
		}
	}()
	return pace
}

// worker is one connection of a group, running its step in a loop.
type worker struct {
	gr   *groupRun
	step stepFunc
	st   *workerStats
	c    *conn
	pace chan time.Time // nil: closed loop
	over func() bool
	max  int64
}

func (w *worker) loop(ctx context.Context) {
	defer w.c.close()
	for {
		var sched time.Time
		if w.pace != nil {
			select {
			case sched = <-w.pace:
			case <-ctx.Done():
				return
			}
		} else if w.over() {
			return
		}
		if w.gr.started.Add(1) > w.max {
			return
		}
		t0 := time.Now()
		if w.pace != nil {
			t0 = sched
		}
		o, kind := w.step(ctx, w.c)
		if o == stop {
			return
		}
		if o == failed && w.over() {
			return // cut off by the end of the run: not the server's fault
		}
		us := time.Since(t0).Microseconds()
		w.st.lat = append(w.st.lat, uint32(min(us, 1<<32-1)))
		switch o {
		case refused:
			w.st.refused++
		case failed:
			w.st.errors++
			w.gr.errs.Add(1)
			if len(w.st.kinds) < 8 || w.st.kinds[kind] > 0 {
				w.st.kinds[kind]++
			}
		}
		w.gr.count.Add(1)
	}
}

// watch samples the server's memory and writes a progress line per
// ProgressEvery until done.
func (e *env) watch(done <-chan struct{}, name string, runs []*groupRun, start time.Time, rss *rssSampler, progress io.Writer) {
	cfg := e.cfg
	tick := time.NewTicker(cfg.ProgressEvery)
	defer tick.Stop()
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	rss.sample()
	var lastN int64
	lastT := start
	for {
		select {
		case <-done:
			if progress != nil && cfg.ProgressTTY {
				fmt.Fprint(progress, "\r\x1b[K")
			}
			return
		case <-sample.C:
			rss.sample()
		case now := <-tick.C:
			if progress == nil {
				continue
			}
			n, errs := runs[0].count.Load(), runs[0].errs.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			line := fmt.Sprintf("%-20s %5.1fs  %9d requests  %6d errors  %8.0f/s", name, now.Sub(start).Seconds(), n, errs, rate)
			if len(runs) > 1 {
				line += fmt.Sprintf("  | %s %d", runs[1].g.name, runs[1].count.Load())
			}
			if rss.max > 0 {
				line += fmt.Sprintf("  rss %d MB", rss.max/1024)
			}
			if cfg.ProgressTTY {
				fmt.Fprintf(progress, "\r\x1b[K%s", line)
			} else {
				fmt.Fprintln(progress, line)
			}
		}
	}
}

// result sums a group's workers: counts, error kinds and latency
// percentiles.
func (gr *groupRun) result(elapsed time.Duration, rss *rssSampler) Result {
	r := Result{Scenario: gr.g.name, Duration: elapsed, ErrorKinds: map[string]int64{}, Note: gr.g.note,
		ServerRSSMaxKB: rss.max, ServerRSSKB: rss.last}
	var all []uint32
	for _, st := range gr.stats {
		all = append(all, st.lat...)
		r.Errors += st.errors
		r.Refused += st.refused
		for k, v := range st.kinds {
			r.ErrorKinds[k] += v
		}
	}
	r.Requests = int64(len(all))
	r.RPS = float64(r.Requests) / elapsed.Seconds()
	if len(all) > 0 {
		slices.Sort(all)
		pct := func(p float64) time.Duration {
			i := int(p*float64(len(all))+0.5) - 1
			i = min(max(i, 0), len(all)-1)
			return time.Duration(all[i]) * time.Microsecond
		}
		r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), time.Duration(all[len(all)-1])*time.Microsecond
	}
	if len(r.ErrorKinds) == 0 {
		r.ErrorKinds = nil
	}
	return r
}

// rssSampler reads the resident size of a process from /proc.
type rssSampler struct {
	pid       int
	max, last int64 // KiB
}

func (s *rssSampler) sample() {
	if s.pid <= 0 {
		return
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			s.last = kb
			s.max = max(s.max, kb)
		}
	}
}

// WriteTable writes results as an aligned table.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests/s\tp50\tp90\tp99\tmax\trequests\terrors\trefused\tserver RSS max\t")
	for _, r := range results {
		rss := "-"
		if r.ServerRSSMaxKB > 0 {
			rss = fmt.Sprintf("%.1f MB", float64(r.ServerRSSMaxKB)/1024)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", r.Scenario, r.RPS, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max),
			r.Requests, r.Errors, r.Refused, rss)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if len(r.ErrorKinds) > 0 {
			kinds := make([]string, 0, len(r.ErrorKinds))
			for k := range r.ErrorKinds {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			var parts []string
			for _, k := range kinds {
				parts = append(parts, fmt.Sprintf("%s ×%d", k, r.ErrorKinds[k]))
			}
			fmt.Fprintf(w, "%s errors: %s\n", r.Scenario, strings.Join(parts, ", "))
		}
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.Note)
		}
	}
	return nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

// WriteJSON writes results as a JSON array.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if results == nil {
		results = []Result{}
	}
	return enc.Encode(results)
}
