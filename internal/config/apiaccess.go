package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

func apiKeys() []string   { return []string{"tls", "tokens"} }
func tlsKeys() []string   { return []string{"mode", "dir"} }
func tokenKeys() []string { return []string{"name", "role", "token", "token_file"} }

func tlsModes() []string { return []string{model.TLSOff, model.TLSOptional, model.TLSRequired} }
func roles() []string    { return []string{model.RoleReadOnly, model.RoleOperator} }

const defaultTLSDir = "/etc/vigil/tls"

func defaultAPI() model.APIAccess {
	return model.APIAccess{TLSMode: model.TLSOff, TLSDir: defaultTLSDir}
}

// fileAPI is the decoded api section; nil fields were absent or reported.
type fileAPI struct {
	tlsMode, tlsDir *string
	tokens          []fileToken
}

type fileToken struct {
	name, role *string
	secret     *string // inline
	file       *string // token_file, as written
}

// api decodes the api section into f.api.
func (d *decoder) api(n *yaml.Node, path string, f *file) {
	fields, _ := d.mapping(n, path, apiKeys())
	if v, ok := fields["tls"]; ok {
		p := path + ".tls"
		tf, _ := d.mapping(v, p, tlsKeys())
		if v, ok := tf["mode"]; ok {
			if m, ok := oneOf(d, v, p+".mode", "mode", tlsModes()); ok {
				f.api.tlsMode = &m
			}
		}
		if v, ok := tf["dir"]; ok {
			f.api.tlsDir = d.dataDir(v, p+".dir")
		}
	}
	if v, ok := fields["tokens"]; ok {
		items, _ := d.optionalList(v, path+".tokens", "a list of tokens")
		for i, item := range items {
			p := fmt.Sprintf("%s.tokens[%d]", path, i)
			d.lines[p] = item.Line
			var ft fileToken
			tf, ok := d.mapping(item, p, tokenKeys())
			if ok {
				d.require(tf, p, "name", "role")
				if v, ok := tf["name"]; ok {
					if s, ok := d.id(v, p+".name"); ok {
						ft.name = &s
					}
				}
				if v, ok := tf["role"]; ok {
					if r, ok := oneOf(d, v, p+".role", "role", roles()); ok {
						ft.role = &r
					}
				}
				if v, ok := tf["token"]; ok {
					ft.secret = d.secret(v, p+".token")
				}
				if v, ok := tf["token_file"]; ok {
					if s, ok := d.text(v, p+".token_file", "a file name"); ok {
						ft.file = &s
					}
				}
			}
			f.api.tokens = append(f.api.tokens, ft)
		}
	}
}

// resolveAPI applies the api section to the defaults, reads token files
// (dir resolves a relative one) and checks that names and tokens are
// unique and that no token is the cluster secret. No message it writes
// shows a token.
func (d *decoder) resolveAPI(fa fileAPI, dir string, secret []byte) model.APIAccess {
	a := defaultAPI()
	if fa.tlsMode != nil {
		a.TLSMode = *fa.tlsMode
	}
	if fa.tlsDir != nil {
		a.TLSDir = *fa.tlsDir
	}
	names := map[string]int{}
	for i, ft := range fa.tokens {
		p := fmt.Sprintf("api.tokens[%d]", i)
		var t model.Token
		if ft.name != nil {
			t.Name = *ft.name
			if j, dup := names[t.Name]; dup {
				d.at(p+".name", "duplicate token name %q (also api.tokens[%d])", t.Name, j)
			} else {
				names[t.Name] = i
			}
		}
		if ft.role != nil {
			t.Role = *ft.role
		}
		inline, fromFile := d.has(p+".token"), d.has(p+".token_file")
		switch {
		case inline && fromFile:
			d.at(p+".token_file", "token and token_file are both set; keep one")
		case !inline && !fromFile:
			d.at(p, "set token_file (a file holding the token), or token")
		case ft.secret != nil:
			t.Secret = []byte(*ft.secret)
		case ft.file != nil:
			name := *ft.file
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			s, msg := readSecret(name, "token")
			if msg != "" {
				d.at(p+".token_file", "%s", msg)
			}
			t.Secret, t.File = s, *ft.file
		}
		if t.Secret != nil {
			if bytes.Equal(t.Secret, secret) {
				d.at(tokenPath(p, t), "the token is the cluster secret; give the API a token of its own")
			}
			for j, other := range a.Tokens {
				if bytes.Equal(t.Secret, other.Secret) {
					d.at(tokenPath(p, t), "the same token as api.tokens[%d]; give each its own", j)
					break
				}
			}
		}
		a.Tokens = append(a.Tokens, t)
	}
	return a
}

func tokenPath(p string, t model.Token) string {
	if t.File != "" {
		return p + ".token_file"
	}
	return p + ".token"
}

// formatAPI adds the api section to root with the values that are not
// the defaults, if there are any. A token read from a file is written as
// its token_file; an inline one inline, as Format writes the secret.
func formatAPI(root *yaml.Node, a model.APIAccess) {
	sec := mapping()
	def := defaultAPI()
	tls := flowMapping()
	if a.TLSMode != "" && a.TLSMode != def.TLSMode {
		add(tls, "mode", strNode(a.TLSMode))
	}
	if a.TLSDir != "" && a.TLSDir != def.TLSDir {
		add(tls, "dir", strNode(a.TLSDir))
	}
	addIf(sec, "tls", tls)
	tokens := &yaml.Node{Kind: yaml.SequenceNode}
	for _, t := range a.Tokens {
		m := flowMapping()
		add(m, "name", strNode(t.Name))
		add(m, "role", strNode(t.Role))
		if t.File != "" {
			add(m, "token_file", strNode(t.File))
		} else {
			add(m, "token", strNode(string(t.Secret)))
		}
		tokens.Content = append(tokens.Content, m)
	}
	addIf(sec, "tokens", tokens)
	addIf(root, "api", sec)
}

// summaryAPI is Summary's api line, "" if a is the default. It shows
// token names and roles, never tokens.
func summaryAPI(a model.APIAccess) string {
	def := defaultAPI()
	mode := a.TLSMode
	if mode == "" {
		mode = def.TLSMode
	}
	dir := a.TLSDir
	if dir == "" {
		dir = def.TLSDir
	}
	if mode == def.TLSMode && dir == def.TLSDir && len(a.Tokens) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "api: tls %s", mode)
	if dir != def.TLSDir {
		fmt.Fprintf(&b, " (%s)", dir)
	}
	if len(a.Tokens) == 0 {
		b.WriteString(", no tokens")
	} else {
		each := make([]string, len(a.Tokens))
		for i, t := range a.Tokens {
			each[i] = t.Name + " " + t.Role
		}
		fmt.Fprintf(&b, ", %s (%s)", plural(len(a.Tokens), "token", "tokens"), strings.Join(each, ", "))
	}
	b.WriteString("\n")
	return b.String()
}
