package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// comments matches the comments of the page's languages: /* */ (CSS, JS),
// <!-- --> (HTML, SVG) and // to the end of a line in JS when the slashes
// do not follow a colon (as they do in a URL).
var comments = regexp.MustCompile(`(?s)/\*.*?\*/|<!--.*?-->|(?m)(?:^|[^:])//.*$`)

// allowedURLs are URLs that are names, not references: the page never
// fetches them.
var allowedURLs = []string{`xmlns="http://www.w3.org/2000/svg"`}

// TestNoExternalURL fails if any embedded file of the page refers to
// another host: the dashboard must work with no network but the node's.
func TestNoExternalURL(t *testing.T) {
	files, err := fs.Sub(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		n++
		text := comments.ReplaceAllString(string(b), " ")
		for _, a := range allowedURLs {
			text = strings.ReplaceAll(text, a, "")
		}
		for i, line := range strings.Split(text, "\n") {
			for _, bad := range []string{"http://", "https://", `src="//`, `href="//`, "url(//", "@import"} {
				if strings.Contains(line, bad) {
					t.Errorf("%s: line %d (comments removed) refers to an external URL (%q): %s", name, i+1, bad, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("checked %d files; the page has at least index.html, app.js, style.css and favicon.svg", n)
	}
}

// TestCommentsRegexp checks that the scan above removes comments and
// nothing else.
func TestCommentsRegexp(t *testing.T) {
	for in, want := range map[string]string{
		"a /* https://x */ b":               "a   b",
		"<!-- http://x --> b":               "  b",
		"x = 1; // see https://spec":        "x = 1; ",
		"fetch('https://cdn.example/x.js')": "fetch('https://cdn.example/x.js')",
	} {
		if got := comments.ReplaceAllString(in, " "); got != want {
			t.Errorf("remove comments from %q: %q, want %q", in, got, want)
		}
	}
}
