package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// static holds the page. It is read-only; Handler indexes it once.
//
//go:embed static
var static embed.FS

// csp allows the page its own files and its own origin's API, nothing
// else: no inline script, no other host.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler returns the dashboard: index.html at "/" and its assets beside
// it ("/app.js", "/style.css", "/favicon.svg"). Mount it under a prefix
// with http.StripPrefix, as the daemon does at /ui/; the page finds the
// API at ../v1/ from its own URL. Only GET and HEAD are served; the files
// are revalidated by ETag, so a new binary's page is picked up at once.
// The handler is concurrency-safe.
func Handler() http.Handler {
	files := map[string]file{}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("web: embedded files: " + err.Error()) // cannot happen: the directory is embedded
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		panic("web: embedded files: " + err.Error())
	}
	for _, e := range entries {
		ct := contentType(e.Name())
		if e.IsDir() || ct == "" {
			continue
		}
		b, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			panic("web: embedded file " + e.Name() + ": " + err.Error())
		}
		sum := sha256.Sum256(b)
		files[e.Name()] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if name == "index.html" {
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}

// contentType is the type a file is served as, by its extension; "" means
// it is not served. It does not consult the system's mime tables, so
// every machine serves the same types.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return ""
}
