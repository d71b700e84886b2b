package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// samples are the latencies of one measured operation.
type samples []time.Duration

// runs bounds how often an operation is measured: at least min times, at
// most max, and no more once budget has passed.
type runs struct {
	min, max int
	budget   time.Duration
}

// measure times fn as runs allow and returns the latencies; prepare, when
// set, runs untimed before each call. One untimed call first warms
// connections and caches.
func measure(r runs, prepare, fn func() error) (samples, error) {
	if prepare == nil {
		prepare = func() error { return nil }
	}
	if err := prepare(); err != nil {
		return nil, err
	}
	if err := fn(); err != nil {
		return nil, err
	}
	var s samples
	start := time.Now()
	for i := 0; i < r.max && (i < r.min || time.Since(start) < r.budget); i++ {
		if err := prepare(); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		s = append(s, time.Since(t))
	}
	return s, nil
}

// pct is the nearest-rank percentile p (0..100).
func (s samples) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func (s samples) p50() time.Duration { return s.pct(50) }
func (s samples) p99() time.Duration { return s.pct(99) }

// ms formats a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	switch {
	case d <= 0:
		return "–" // not measured

	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(slow, fast time.Duration) string {
	if fast <= 0 || slow <= 0 {
		return "–"
	}
	r := float64(slow) / float64(fast)
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// stmts formats a statement count; a negative one was not measured.
func stmts(n int) string {
	if n < 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

var serverTiming = regexp.MustCompile(`desc="(\d+) queries"`)

// get fetches a URL, reads the whole body and checks the status; it returns
// the body size and the statement count from Server-Timing (-1 when absent).
func (e *env) get(url string, headers ...string) (size int, statements int, err error) {
	req, err := http.NewRequestWithContext(e.ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, err
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified {
		return 0, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	statements = -1
	if m := serverTiming.FindStringSubmatch(resp.Header.Get("Server-Timing")); m != nil {
		statements, _ = strconv.Atoi(m[1])
	}
	return int(n), statements, nil
}

// machine describes where the figures were measured.
func (e *env) machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	var pg string
	if err := e.raw.QueryRow(e.ctx, "SHOW server_version").Scan(&pg); err != nil {
		pg = "?"
	}
	return fmt.Sprintf("%s, %d cores%s; PostgreSQL %s (fsync off, data in tmpfs); %s; %s",
		cpu, runtime.NumCPU(), mem, pg, runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}

// report is bench/RESULTS.md: a preamble and one marked section per scenario,
// so that running one scenario rewrites its section and keeps the others.
type report struct {
	path     string
	sections map[string]string
	order    []string
}

const preamble = `# canopy benchmarks

Written by ` + "`go run ./bench`" + ` (see bench/main.go): each section below is rewritten
by ` + "`go run ./bench -only NAME`" + ` and says where and when it ran. Latencies are
measured by an HTTP client on the same machine, over loopback with keep-alive,
reading the whole response; p50/p99 are nearest-rank over the runs shown.
`

var sectionRE = regexp.MustCompile(`(?s)<!-- begin (\w+) -->\n(.*?)<!-- end (\w+) -->\n`)

func newReport(path string) (*report, error) {
	r := &report{path: path, sections: map[string]string{}}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, m := range sectionRE.FindAllStringSubmatch(string(b), -1) {
		r.sections[m[1]] = m[2]
		r.order = append(r.order, m[1])
	}
	return r, nil
}

func (r *report) set(name, title, body string) {
	if _, ok := r.sections[name]; !ok {
		r.order = append(r.order, name)
	}
	r.sections[name] = "## " + title + "\n\n" + strings.TrimSpace(body) + "\n"
}

func (r *report) write() error {
	var b strings.Builder
	b.WriteString(preamble)
	for _, name := range r.order {
		fmt.Fprintf(&b, "\n<!-- begin %s -->\n%s<!-- end %s -->\n", name, r.sections[name], name)
	}
	return os.WriteFile(r.path, []byte(b.String()), 0o644)
}
