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
	style  style
	points []point
}

// style is how an approach's line is drawn; its markers are never dashed.
type style struct {
	color string
	width int
	dash  string
}

func (s style) attrs() string {
	a := fmt.Sprintf(`stroke="%s" stroke-width="%d"`, s.color, s.width)
	if s.dash != "" {
		a += fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
	}
	return a
}

type point struct {
	x float64
	y time.Duration
}

// Line styles shared by every chart, so an approach looks the same in each.
var (
	styleCanopy = style{"#1a7f37", 3, ""}
	styleWarm   = style{"#1a7f37", 2, "2 4"}
	styleNaive  = style{"#cf222e", 2, ""}
	styleNaive2 = style{"#bc4c00", 2, "6 3"}
	styleGORM   = style{"#0969da", 2, ""}
	styleFloor  = style{"#6e7781", 2, "6 3"}
	styleFlat   = style{"#8c959f", 2, "2 3"}
	// canopy's answers compressed (the tree by content coding).
	styleGzip     = style{"#8250df", 3, ""}
	styleGzipWarm = style{"#8250df", 2, "2 4"}
	styleZstd     = style{"#bf8700", 3, ""}
	styleZstdWarm = style{"#bf8700", 2, "2 4"}
)

// add records y at x on the line labelled label, creating it (in the order
// of first use, which is the legend's) with style; a y of zero was not
// measured and is left out.
func (c *chart) add(label string, style style, x float64, y time.Duration) {
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
	if len(c.lines) == 0 || dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, c.name+".svg"), []byte(c.svg()), 0o644)
}

const (
	chartW, chartH                         = 800, 440
	padLeft, padRight, padTop, padBottom   = 70, 230, 40, 55
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
	x0, x1 := span(xmin, xmax)
	y0, y1 := span(ymin, ymax)
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
	for e := math.Ceil(x0); e <= x1; e++ {
		x := px(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d0d7de"/>`+"\n", x, padTop, x, padTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, padTop+plotH+18, count(math.Pow(10, e)))
	}
	for e := math.Ceil(y0); e <= y1; e++ {
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
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" %s/>`+"\n", strings.Join(pts, " "), l.style.attrs())
		for _, p := range pts {
			x, y, _ := strings.Cut(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", x, y, l.style.color)
		}
		ly := legendY + i*legendStep
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", legendX, ly, legendX+24, ly, l.style.attrs())
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", legendX+30, ly, esc(l.label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// span is the log10 range an axis shows for values from lo to hi: theirs
// widened by a margin, and at least one decade wide, so that one data size
// still sits inside the chart and at least one decade line is drawn.
func span(lo, hi float64) (float64, float64) {
	a, b := math.Log10(lo), math.Log10(hi)
	if b-a < 1 {
		mid := (a + b) / 2
		a, b = mid-0.5, mid+0.5
	}
	margin := (b - a) * 0.06
	return a - margin, b + margin
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
