package importer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress reports how an import goes: on a terminal, a bar redrawn in
// place several times a second; elsewhere (a log file, CI), a plain line
// every few seconds. The ETA comes from how much of the input has been read:
// bytes of a file of known size, or rows of a generator that knows its count.
type progress struct {
	w     io.Writer // nil: silent
	tty   bool
	every time.Duration
	label string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, tty bool, every time.Duration, label string, now time.Time) *progress {
	switch {
	case every > 0:
	case tty:
		every = 200 * time.Millisecond
	default:
		every = 5 * time.Second
	}
	return &progress{w: w, tty: tty, every: every, label: label, start: now, last: now}
}

// update redraws when the interval has passed since the last report.
func (p *progress) update(now time.Time, rows, done, total int64) {
	if p.w == nil || now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := float64(rows) / elapsed.Seconds()
	fraction, eta := -1.0, ""
	if total > 0 && done > 0 {
		fraction = min(float64(done)/float64(total), 1)
		left := time.Duration(float64(elapsed) * (1 - fraction) / fraction)
		eta = "ETA " + left.Round(time.Second).String()
	}
	if !p.tty {
		line := fmt.Sprintf("%s: %d rows, %s rows/s", p.label, rows, thousands(int64(rate)))
		if fraction >= 0 {
			line += fmt.Sprintf(", %.0f%%, %s", fraction*100, eta)
		}
		fmt.Fprintln(p.w, line)
		return
	}
	const width = 30
	bar := strings.Repeat(" ", width)
	if fraction >= 0 {
		n := int(fraction * width)
		bar = strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		if n < width {
			bar = bar[:n] + ">" + bar[n+1:]
		}
	}
	pct := "  ?%"
	if fraction >= 0 {
		pct = fmt.Sprintf("%3.0f%%", fraction*100)
	}
	fmt.Fprintf(p.w, "\r%s [%s] %s  %s rows  %s rows/s  %s\x1b[K", p.label, bar, pct, thousands(rows), thousands(int64(rate)), eta)
	p.drawn = true
}

// finish ends the bar's line, so that the summary starts on a fresh one.
func (p *progress) finish() {
	if p.w != nil && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// thousands writes n with thousands separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
