package ocf

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MetaData is what an agent's meta-data action declares about it.
type MetaData struct {
	Agent      string // full name, e.g. "ocf:heartbeat:Dummy"
	Version    string // the agent's own version
	ShortDesc  string
	LongDesc   string
	Parameters []Parameter // in the agent's order
	Actions    []Action    // in the agent's order
}

// Parameter is one parameter an agent accepts (OCF_RESKEY_<Name>).
type Parameter struct {
	Name      string
	Required  bool
	Unique    bool
	Type      string // "string", "integer", "boolean", …
	Default   string // as the agent prints it; "" if none
	ShortDesc string
	LongDesc  string
}

// Action is one action an agent implements, with the timings it advises,
// as the agent wrote them (e.g. Timeout "20s").
type Action struct {
	Name     string
	Timeout  string
	Interval string
	Depth    string
	Role     string
}

// hasAction reports whether md declares the action name.
func (md MetaData) hasAction(name string) bool {
	return slices.ContainsFunc(md.Actions, func(a Action) bool { return a.Name == name })
}

// clone returns a copy that shares no slices with md.
func (md MetaData) clone() MetaData {
	md.Parameters = slices.Clone(md.Parameters)
	md.Actions = slices.Clone(md.Actions)
	return md
}

// cachedMeta is the meta-data of one version of an agent's file.
type cachedMeta struct {
	size  int64
	mtime time.Time
	md    MetaData
}

// metaData returns ra's meta-data, running its meta-data action unless the
// result for the same file (path, size and modification time) is cached.
func (a *Agent) metaData(ctx context.Context, ra raRef) (MetaData, error) {
	fi, err := a.executable(ra)
	if err != nil {
		return MetaData{}, err
	}
	path := a.path(ra)
	a.mu.Lock()
	c, ok := a.metas[path]
	a.mu.Unlock()
	if ok && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) {
		return c.md, nil
	}
	res, err := a.exec(ctx, callEnv{root: a.root, stateDir: a.stateDir, ra: ra, action: "meta-data"})
	if err != nil {
		return MetaData{}, err
	}
	if res.code != exitSuccess {
		return MetaData{}, res.err("meta-data")
	}
	md, err := parseMetaData(res.stdout)
	if err != nil {
		return MetaData{}, fmt.Errorf("meta-data of %s: %w", ra, err)
	}
	md.Agent = ra.String()
	a.mu.Lock()
	a.metas[path] = cachedMeta{size: fi.Size(), mtime: fi.ModTime(), md: md}
	a.mu.Unlock()
	return md, nil
}

// The meta-data XML, per the OCF resource agent API (ra-api-1.dtd).
type (
	xmlAgent struct {
		XMLName    xml.Name    `xml:"resource-agent"`
		Version    string      `xml:"version"`
		LongDesc   []xmlDesc   `xml:"longdesc"`
		ShortDesc  []xmlDesc   `xml:"shortdesc"`
		Parameters []xmlParam  `xml:"parameters>parameter"`
		Actions    []xmlAction `xml:"actions>action"`
	}
	xmlDesc struct {
		Lang string `xml:"lang,attr"`
		Text string `xml:",chardata"`
	}
	xmlParam struct {
		Name      string    `xml:"name,attr"`
		Required  string    `xml:"required,attr"`
		Unique    string    `xml:"unique,attr"`
		LongDesc  []xmlDesc `xml:"longdesc"`
		ShortDesc []xmlDesc `xml:"shortdesc"`
		Content   struct {
			Type    string `xml:"type,attr"`
			Default string `xml:"default,attr"`
		} `xml:"content"`
	}
	xmlAction struct {
		Name     string `xml:"name,attr"`
		Timeout  string `xml:"timeout,attr"`
		Interval string `xml:"interval,attr"`
		Depth    string `xml:"depth,attr"`
		Role     string `xml:"role,attr"`
	}
)

// parseMetaData decodes an agent's meta-data XML.
func parseMetaData(b []byte) (MetaData, error) {
	var x xmlAgent
	dec := xml.NewDecoder(bytes.NewReader(b))
	// Agents declare ASCII or Latin-1 now and then but write ASCII.
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "us-ascii", "ascii", "iso-8859-1", "latin1":
			return r, nil
		}
		return nil, fmt.Errorf("charset %q is not supported", charset)
	}
	if err := dec.Decode(&x); err != nil {
		return MetaData{}, fmt.Errorf("parse XML: %w", err)
	}
	md := MetaData{
		Version:   strings.TrimSpace(x.Version),
		ShortDesc: pickDesc(x.ShortDesc),
		LongDesc:  pickDesc(x.LongDesc),
	}
	var errs []error
	for i, p := range x.Parameters {
		if !validParamName(p.Name) {
			errs = append(errs, fmt.Errorf("parameter %d: name %q is not a valid parameter name", i+1, p.Name))
			continue
		}
		md.Parameters = append(md.Parameters, Parameter{
			Name:      p.Name,
			Required:  isTrue(p.Required),
			Unique:    isTrue(p.Unique),
			Type:      p.Content.Type,
			Default:   p.Content.Default,
			ShortDesc: pickDesc(p.ShortDesc),
			LongDesc:  pickDesc(p.LongDesc),
		})
	}
	for i, a := range x.Actions {
		if a.Name == "" {
			errs = append(errs, fmt.Errorf("action %d has no name", i+1))
			continue
		}
		md.Actions = append(md.Actions, Action(a))
	}
	if err := errors.Join(errs...); err != nil {
		return MetaData{}, err
	}
	return md, nil
}

// pickDesc returns the English description, or the first one.
func pickDesc(ds []xmlDesc) string {
	for _, d := range ds {
		if d.Lang == "en" {
			return strings.TrimSpace(d.Text)
		}
	}
	if len(ds) > 0 {
		return strings.TrimSpace(ds[0].Text)
	}
	return ""
}

// isTrue reads an OCF boolean attribute ("1", "true", "yes").
func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
