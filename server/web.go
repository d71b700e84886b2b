package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// webCSP lets the front end load only its own scripts and styles (no inline
// ones, so an injected <script> or style attribute does nothing), images
// from itself or any https origin (newsletter images), and never be framed.
const webCSP = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; object-src 'none'; base-uri 'none'"

// webFile is an embedded file ready to serve.
type webFile struct {
	body        []byte
	contentType string
	etag        string
}

// webUI serves the embedded front end: index.html at / and its files under
// /assets/. Files are revalidated on every load (Cache-Control: no-cache)
// against an ETag of their content, so a new binary is picked up at once
// and an unchanged file costs a 304.
type webUI struct {
	files map[string]webFile // by path in the FS: "index.html", "assets/js/app.js"
}

// newWebUI reads every file of fsys into memory. The files are embedded, so
// reading them cannot fail at run time: an error is a broken build, and
// panics.
func newWebUI(fsys fs.FS) *webUI {
	ui := &webUI{files: map[string]webFile{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		sum := sha256.Sum256(body)
		ui.files[name] = webFile{body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("server: embedded web files: " + err.Error())
	}
	if _, ok := ui.files["index.html"]; !ok {
		panic("server: embedded web files lack index.html")
	}
	return ui
}

// headers sets the security headers every front-end response carries.
func (ui *webUI) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", webCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.Next()
}

func (ui *webUI) index(c *gin.Context) {
	ui.serve(c, ui.files["index.html"])
}

// asset serves a file under /assets/; anything else is a 404 problem.
func (ui *webUI) asset(c *gin.Context) error {
	name := "assets" + path.Clean("/"+strings.TrimPrefix(c.Param("filepath"), "/"))
	f, ok := ui.files[name]
	if !ok {
		return notFound("no asset %s", c.Param("filepath"))
	}
	ui.serve(c, f)
	return nil
}

func (ui *webUI) serve(c *gin.Context, f webFile) {
	h := c.Writer.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(f.body))
}
