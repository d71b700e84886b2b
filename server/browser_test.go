package server

// The browser tests drive the embedded front end in Debian's headless
// Chromium (through chromedp), against a real server on a real database, with
// data the tests insert. One browser serves the whole test binary; each test
// gets a tab of its own. They never skip: without Chromium they fail and say
// how to install it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// Viewport of every tab: the size of the screenshots.
const viewportWidth, viewportHeight = 1280, 860

// browserWait bounds every wait for the page to show something.
const browserWait = 20 * time.Second

var sharedBrowser struct {
	once   sync.Once
	ctx    context.Context // the browser's first tab: new tabs are made from it
	cancel context.CancelFunc
	err    error
}

// browserContext starts the shared browser on first use.
func browserContext() (context.Context, error) {
	sharedBrowser.once.Do(func() {
		if _, err := os.Stat(chromiumPath); err != nil {
			sharedBrowser.err = fmt.Errorf("no Chromium at %s (%v): run ./scripts/ensure-chromium.sh, which installs Debian's chromium package (make test runs it)", chromiumPath, err)
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			// Tabs run side by side: none may be throttled as a background tab.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("force-color-profile", "srgb"),
			chromedp.Flag("lang", "en-US"),
			// The newsletter images come from a test TLS server with its own certificate.
			chromedp.IgnoreCertErrors,
			chromedp.WindowSize(viewportWidth, viewportHeight),
			chromedp.Env("TZ=UTC"),
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		if err := chromedp.Do(ctx); err != nil {
			cancelBrowser()
			cancelAlloc()
			sharedBrowser.err = fmt.Errorf("starting %s: %w; run ./scripts/ensure-chromium.sh (make test runs it)", chromiumPath, err)
			return
		}
		sharedBrowser.ctx = ctx
		sharedBrowser.cancel = func() { cancelBrowser(); cancelAlloc() }
	})
	return sharedBrowser.ctx, sharedBrowser.err
}

// closeBrowser ends the shared browser, if one started; TestMain calls it
// after the tests, so that its processes and profile directory go too.
func closeBrowser() {
	if sharedBrowser.cancel != nil {
		sharedBrowser.cancel()
	}
}

// probeScript runs before the page's own scripts (injected by the DevTools
// protocol, so the CSP does not apply to it) and records what must never
// happen: a CSP violation or an uncaught error.
const probeScript = `
window.__problems = [];
document.addEventListener('securitypolicyviolation', (e) =>
	window.__problems.push('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));
window.addEventListener('error', (e) => window.__problems.push('uncaught error: ' + e.message + ' at ' + e.filename + ':' + e.lineno));
window.addEventListener('unhandledrejection', (e) => window.__problems.push('unhandled rejection: ' + (e.reason && e.reason.stack || e.reason)));
`

// browserPage is a tab on a test server, used by test t; in(t) uses the same
// tab in a subtest.
type browserPage struct {
	t *testing.T
	*browserTab
}

type browserTab struct {
	ts     *testServer
	ctx    context.Context
	visits int

	mu      sync.Mutex
	console []string
}

// in is the page for subtest t.
func (p *browserPage) in(t *testing.T) *browserPage {
	return &browserPage{t: t, browserTab: p.browserTab}
}

// openPage opens a tab in a fresh profile with token (none when empty)
// stored as the front end keeps it, ready to visit the server's views.
func (ts *testServer) openPage(t *testing.T, token string) *browserPage {
	t.Helper()
	base, err := browserContext()
	if err != nil {
		t.Fatal(err)
	}
	// A browser context of its own: the tab shares no storage (the token in
	// localStorage) and no cache with the other tabs.
	ctx, cancel := chromedp.NewContext(base, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	p := &browserPage{t: t, browserTab: &browserTab{ts: ts, ctx: ctx}}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probeScript}); err != nil {
		cancel()
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m.String())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		// The page's own record of CSP violations and uncaught errors must be empty.
		problems, err := evalIn[[]string](ctx, `window.__problems || []`)
		if err != nil {
			t.Errorf("reading the page's problems: %v", err)
		}
		for _, pr := range problems {
			t.Errorf("page: %s", pr)
		}
		cancel()
		<-watched
		if t.Failed() {
			p.mu.Lock()
			for _, m := range p.console {
				t.Logf("console: %s", m)
			}
			p.mu.Unlock()
		}
	})
	// Any page of the origin will do to set the token before the app starts.
	p.do(chromedp.Navigate(ts.http.URL + "/healthz"))
	if token == "" {
		p.eval(`localStorage.clear()`)
	} else {
		p.eval(fmt.Sprintf(`localStorage.setItem('canopy.token', %s)`, jsString(token)))
	}
	return p
}

// visit loads the front end at route ("categories", "articles?month=2024-11").
func (p *browserPage) visit(route string) {
	p.t.Helper()
	// A query string of its own makes every visit a full page load, never
	// a same-document jump to another fragment.
	p.visits++
	p.do(chromedp.Navigate(fmt.Sprintf("%s/?visit=%d#/%s", p.ts.http.URL, p.visits, route)))
	p.waitFor(`document.querySelector('main > section.view')`, "a view to render")
}

// do runs actions with the browser wait as their deadline.
func (p *browserPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fatalf("browser: %v", err)
	}
}

// waitFor waits until the JavaScript expression js is truthy.
func (p *browserPage) waitFor(js, what string) {
	p.t.Helper()
	p.waitWithin(browserWait, js, what)
}

// waitWithin waits up to d for the JavaScript expression js to be truthy.
func (p *browserPage) waitWithin(d time.Duration, js, what string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+js+")",
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		p.fatalf("waiting %s for %s (%s): %v", d, what, js, err)
	}
}

// eval runs js in the page and returns its result as JSON-decoded any.
func (p *browserPage) eval(js string) any {
	p.t.Helper()
	v, err := evalIn[any](p.ctx, js)
	if err != nil {
		p.fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// text is the visible text of the first element matching the CSS selector, or "".
func (p *browserPage) text(selector string) string {
	p.t.Helper()
	s, _ := p.eval(fmt.Sprintf(`(document.querySelector(%s) || {innerText: ''}).innerText.trim()`, jsString(selector))).(string)
	return s
}

// texts are the visible texts of every element matching the CSS selector.
func (p *browserPage) texts(selector string) []string {
	p.t.Helper()
	v, err := evalIn[[]string](p.ctx, fmt.Sprintf(`[...document.querySelectorAll(%s)].map((e) => e.innerText.trim())`, jsString(selector)))
	if err != nil {
		p.fatalf("texts of %s: %v", selector, err)
	}
	return v
}

// count is the number of elements matching the CSS selector.
func (p *browserPage) count(selector string) int {
	p.t.Helper()
	n, _ := p.eval(fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(selector))).(float64)
	return int(n)
}

// attr is an attribute of the first element matching the CSS selector ("" when absent).
func (p *browserPage) attr(selector, name string) string {
	p.t.Helper()
	s, _ := p.eval(fmt.Sprintf(`(document.querySelector(%s) || {getAttribute: () => ''}).getAttribute(%s) || ''`, jsString(selector), jsString(name))).(string)
	return s
}

// click clicks the element with the mouse, as a user would.
func (p *browserPage) click(selector string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// typeInto focuses the element and types text into it.
func (p *browserPage) typeInto(selector, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS(selector), text, chromedp.NodeVisible))
}

// press sends keys to the element that has the focus.
func (p *browserPage) press(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		p.do(chromedp.KeyEvent(k))
	}
}

// focused describes the focused element by its data-key, or its tag.
func (p *browserPage) focused() string {
	p.t.Helper()
	s, _ := p.eval(`(document.activeElement.dataset && document.activeElement.dataset.key) || document.activeElement.tagName`).(string)
	return s
}

func (p *browserPage) fatalf(format string, args ...any) {
	p.t.Helper()
	body, _ := evalIn[string](p.ctx, `document.body ? document.body.innerText : ''`)
	if len(body) > 3000 {
		body = body[:3000] + "…"
	}
	p.t.Fatalf(format+"\n--- page text ---\n%s", append(args, body)...)
}

// screenshot saves the whole page as artifacts/screenshots/<name>.png (git
// ignored) for a reviewer to look at; with UPDATE_SCREENSHOTS=1 and a docs
// name, it also saves the viewport as docs/screenshots/<docs>.png, the
// README's pictures.
func (p *browserPage) screenshot(name, docs string) {
	p.t.Helper()
	root := moduleRoot(p.t)
	// The pointer goes to a corner, so that no hover shows, and the last
	// layout and image decodes land before the capture.
	p.do(chromedp.MouseEvent(chromedp.MouseMoved, 1, viewportHeight-1))
	p.waitFor(`!document.querySelector('.row:hover, .btn:hover, tbody tr:hover, .match:hover')`, "the hover to go")
	if _, err := evalIn[bool](p.ctx, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`); err != nil {
		p.fatalf("waiting for two frames: %v", err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fatalf("screenshot %s: %v", name, err)
	}
	writeFile(p.t, filepath.Join(root, "artifacts", "screenshots", name+".png"), full)
	if docs != "" && os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			p.fatalf("screenshot %s: %v", docs, err)
		}
		writeFile(p.t, filepath.Join(root, "docs", "screenshots", docs+".png"), shot)
	}
}

// checkNarrow shows the page on a phone-sized screen: nothing may stick out
// sideways (wide tables scroll inside their own box), and a screenshot
// artifacts/screenshots/<name>-narrow.png shows the rest. The viewport goes
// back to the desktop size after.
func (p *browserPage) checkNarrow(name string) {
	p.t.Helper()
	p.do(chromedp.EmulateViewport(390, 844))
	defer p.do(chromedp.EmulateViewport(viewportWidth, viewportHeight))
	p.waitFor(`document.documentElement.clientWidth === 390`, "the narrow layout")
	if w, _ := p.eval(`document.documentElement.scrollWidth`).(float64); w > 390 {
		wide, _ := p.eval(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 391 && !e.closest('.table-panel, .table-scroll')).slice(0, 5).map((e) => e.tagName + '.' + e.className).join(', ')`).(string)
		p.t.Errorf("on a 390 px screen the page is %v px wide; too wide: %s", w, wide)
	}
	p.screenshot(name+"-narrow", "")
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// moduleRoot is the directory of go.mod, above the package's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

func evalIn[T any](ctx context.Context, js string) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// timingPattern is how the status line shows a request's Server-Timing.
const timingPattern = `^\d+ quer(y|ies) · \d+\.\d ms$`

// wantTiming asserts that the view's status line shows the query count and
// database time of the request labelled label.
func (p *browserPage) wantTiming(label string) {
	p.t.Helper()
	sel := fmt.Sprintf(`.status .entry[data-label=%s] .timing`, jsString(label))
	p.waitFor(fmt.Sprintf(`document.querySelector(%s)`, jsString(sel)), "the status line to show "+label)
	got := p.text(sel)
	if ok, _ := p.eval(fmt.Sprintf(`new RegExp(%s).test(%s)`, jsString(timingPattern), jsString(got))).(bool); !ok {
		p.t.Errorf("status line for %s shows %q, want it to match %s", label, got, timingPattern)
	}
}

// join is strings.Join with " | ", for readable assertions on lists of texts.
func join(texts []string) string { return strings.Join(texts, " | ") }
