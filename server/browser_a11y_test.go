package server

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// axeTags are the axe-core rule sets every view must pass: WCAG 2.0 and 2.1, levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// axeSource is axe-core's axe.min.js, at the version scripts/a11y pins;
// scripts/ensure-axe.sh installs it once (make test runs it first) and says where.
var axeSource = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("../scripts/ensure-axe.sh").Output() // go test runs in the package's directory
	if err != nil {
		return "", fmt.Errorf("scripts/ensure-axe.sh (it installs axe-core with npm): %w", err)
	}
	src, err := os.ReadFile(strings.TrimSpace(string(out)))
	return string(src), err
})

// axeViolation is the part of an axe-core result a failing test reports.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// checkA11y runs axe-core's WCAG 2 A and AA rules over the page as it is now
// and fails the test with every violation. axe.min.js is evaluated over the
// DevTools protocol, which the page's CSP (no inline scripts) does not cover.
func (p *browserPage) checkA11y(what string) {
	p.t.Helper()
	src, err := axeSource()
	if err != nil {
		p.t.Fatal(err)
	}
	if loaded, _ := evalIn[bool](p.ctx, `typeof axe === 'object'`); !loaded {
		if _, err := evalIn[bool](p.ctx, src+"\n;true"); err != nil {
			p.fatalf("loading axe-core: %v", err)
		}
	}
	tags, _ := json.Marshal(axeTags)
	run := fmt.Sprintf(`axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']}).then((r) => r.violations)`, tags)
	violations, err := evalIn[[]axeViolation](p.ctx, run)
	if err != nil {
		p.fatalf("running axe-core on %s: %v", what, err)
	}
	for _, v := range violations {
		var nodes []string
		for i, n := range v.Nodes {
			if i == 5 {
				nodes = append(nodes, fmt.Sprintf("… and %d more", len(v.Nodes)-i))
				break
			}
			nodes = append(nodes, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		p.t.Errorf("%s: axe %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(nodes, "\n  "))
	}
}
