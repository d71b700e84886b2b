package server

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"canopy/web"
)

// wantUIHeaders checks the security headers every front-end response carries.
func wantUIHeaders(t *testing.T, r response) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s %s: %s = %q, want %q", r.Request.Method, r.Request.URL.Path, name, got, want)
		}
	}
}

var (
	// htmlRefs finds the src and href attributes of index.html.
	htmlRefs = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	// importRefs finds the static imports of a JavaScript module.
	importRefs = regexp.MustCompile(`(?m)^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]`)
	// cssRefs finds url(...) in a style sheet.
	cssRefs = regexp.MustCompile(`url\(["']?([^"')]+)["']?\)`)
)

var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
}

func TestWebIndex(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	r := ts.do("GET", "/", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, body %s", r.StatusCode, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantUIHeaders(t, r)
	body := string(r.Body)
	for _, want := range []string{`<script type="module" src="/assets/js/app.js">`, `<link rel="stylesheet" href="/assets/app.css">`,
		`href="#/categories"`, `href="#/hospital"`, `href="#/articles"`, `href="#/settlements"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if strings.Contains(body, "style=") || regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) {
		t.Error("index.html has inline styles or scripts, which the CSP refuses")
	}
	r.wantQueries(t, 0)

	t.Run("revalidated with the ETag", func(t *testing.T) {
		etag := r.Header.Get("ETag")
		if etag == "" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("ETag %q, Cache-Control %q", etag, r.Header.Get("Cache-Control"))
		}
		again := ts.do("GET", "/", nil, "If-None-Match", etag)
		if again.StatusCode != http.StatusNotModified || len(again.Body) != 0 {
			t.Errorf("If-None-Match with the ETag: %d, %d bytes", again.StatusCode, len(again.Body))
		}
	})
}

// TestWebAssets follows every reference from index.html (scripts, styles,
// icons, and the modules' imports) and checks that each is served with the
// right type and the security headers, and that no embedded file is left
// unreferenced.
func TestWebAssets(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	seen := map[string]bool{}
	queue := []string{}
	add := func(from, ref string) {
		if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "http") || ref == "/openapi.yaml" {
			return
		}
		if !strings.HasPrefix(ref, "/") {
			ref = path.Join(path.Dir(from), ref)
		}
		if !seen[ref] {
			seen[ref] = true
			queue = append(queue, ref)
		}
	}
	index := ts.send("GET", "/", nil)
	for _, m := range htmlRefs.FindAllStringSubmatch(string(index.Body), -1) {
		add("/", m[1])
	}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		r := ts.send("GET", ref, nil)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", ref, r.StatusCode)
			continue
		}
		want := assetTypes[path.Ext(ref)]
		if want == "" {
			t.Errorf("%s: no expected content type for its extension", ref)
		} else if got := r.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", ref, got, want)
		}
		wantUIHeaders(t, r)
		switch path.Ext(ref) {
		case ".js":
			for _, m := range importRefs.FindAllStringSubmatch(string(r.Body), -1) {
				add(ref, m[1])
			}
		case ".css":
			for _, m := range cssRefs.FindAllStringSubmatch(string(r.Body), -1) {
				if !strings.HasPrefix(m[1], "data:") {
					add(ref, m[1])
				}
			}
		}
	}
	if !seen["/assets/js/app.js"] || !seen["/assets/app.css"] {
		t.Fatalf("index.html references %v", seen)
	}
	var embedded []string
	_ = fs.WalkDir(web.Files, "assets", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, "/"+name)
		}
		return err
	})
	for _, name := range embedded {
		if !seen[name] {
			t.Errorf("%s is embedded but nothing references it", name)
		}
	}
	if len(embedded) == 0 || !slices.Contains(embedded, "/assets/js/tree.js") {
		t.Errorf("embedded assets: %v", embedded)
	}
}

func TestWebNotFound(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct {
		name, path string
		ui         bool
	}{
		{"unknown asset", "/assets/nope.js", true},
		{"no escape from assets", "/assets/..%2f..%2fgo.mod", true},
		{"unknown API path", "/api/v1/nope", false},
		{"unknown page", "/nope", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.send("GET", tc.path, nil)
			if r.StatusCode != http.StatusNotFound {
				t.Fatalf("GET %s = %d, body %s", tc.path, r.StatusCode, r.Body)
			}
			r.problem(t)
			if tc.ui {
				wantUIHeaders(t, r)
			}
		})
	}
}
