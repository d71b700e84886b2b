package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// chart is a log-log line chart of latency against data size, one line per
// approach, written as a hand-made SVG (bench/charts/NAME.svg) that the
// README shows.
type chart struct {
	name, title, xLabel string
	lines               []line
}

type line struct {
	label  string
	style  string // stroke colour and dash
	points []point
}

type point struct {
	x float64
	y time.Duration
}

// Line styles shared by every chart, so an approach looks the same in each.
const (
	styleCanopy = `stroke="#1a7f37" stroke-width="3"`
	styleWarm   = `stroke="#1a7f37" stroke-width="2" stroke-dasharray="2 4"`
	styleNaive  = `stroke="#cf222e" stroke-width="2"`
	styleNaive2 = `stroke="#bc4c00" stroke-width="2" stroke-dasharray="6 3"`
	styleGORM   = `stroke="#0969da" stroke-width="2"`
	styleFloor  = `stroke="#6e7781" stroke-width="2" stroke-dasharray="6 3"`
	styleFlat   = `stroke="#afb8c1" stroke-width="2" stroke-dasharray="2 3"`
)

// add records y at x on the line labelled label, creating it (in the order
// of first use, which is the legend's) with style; a y of zero was not
// measured and is left out.
func (c *chart) add(label, style string, x float64, y time.Duration) {
	if y <= 0 {
		return // not measured (-peers=false)
	}
	for i := range c.lines {
		if c.lines[i].label == label {
			c.lines[i].points = append(c.lines[i].points, point{x, y})
			return
		}
	}
	c.lines = append(c.lines, line{label: label, style: style, points: []point{{x, y}}})
}

// write renders the chart into dir/name.svg.
func (c *chart) write(dir string) error {
	if len(c.lines) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, c.name+".svg"), []byte(c.svg()), 0o644)
}

const (
	chartW, chartH                         = 760, 440
	padLeft, padRight, padTop, padBottom   = 70, 190, 40, 55
	plotW, plotH                           = chartW - padLeft - padRight, chartH - padTop - padBottom
	legendX, legendY, legendStep, fontSize = chartW - padRight + 15, padTop + 10, 22, 13
)

func (c *chart) svg() string {
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range c.lines {
		for _, p := range l.points {
			ms := max(float64(p.y)/float64(time.Millisecond), 1e-3)
			xmin, xmax = min(xmin, p.x), max(xmax, p.x)
			ymin, ymax = min(ymin, ms), max(ymax, ms)
		}
	}
	// Whole decades on both axes; one decade at least.
	x0, x1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	y0, y1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	x1, y1 = max(x1, x0+1), max(y1, y0+1)
	px := func(x float64) float64 { return padLeft + (math.Log10(x)-x0)/(x1-x0)*plotW }
	py := func(d time.Duration) float64 {
		ms := max(float64(d)/float64(time.Millisecond), 1e-3)
		return padTop + plotH - (math.Log10(ms)-y0)/(y1-y0)*plotH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		chartW, chartH, chartW, chartH, fontSize)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", padLeft, esc(c.title))
	for e := x0; e <= x1; e++ {
		x := px(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d0d7de"/>`+"\n", x, padTop, x, padTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, padTop+plotH+18, count(math.Pow(10, e)))
	}
	for e := y0; e <= y1; e++ {
		y := py(time.Duration(math.Pow(10, e) * float64(time.Millisecond)))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d7de"/>`+"\n", padLeft, y, padLeft+plotW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padLeft-6, y, millis(math.Pow(10, e)))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#57606a"/>`+"\n", padLeft, padTop, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s (log scale)</text>`+"\n", padLeft+plotW/2, chartH-12, esc(c.xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">p50 latency, ms (log scale)</text>`+"\n", padTop+plotH/2)
	for i, l := range c.lines {
		var pts []string
		for _, p := range l.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" %s/>`+"\n", strings.Join(pts, " "), l.style)
		for _, p := range pts {
			x, y, _ := strings.Cut(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="#ffffff" %s/>`+"\n", x, y, l.style)
		}
		ly := legendY + i*legendStep
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", legendX, ly, legendX+24, ly, l.style)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", legendX+30, ly, esc(l.label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// count labels a decade of data size: 100, 1k, 10k, 1M.
func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", v)
	}
}

// millis labels a decade of latency: 0.01, 0.1, 1, 10, 1000.
func millis(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
