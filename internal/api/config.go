package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ConfigBackend changes the resource configuration at run time. A Backend
// that implements it (the daemon does) also serves GET and POST /v1/config
// and the leader's POST /v1/internal/config.
type ConfigBackend interface {
	// Config describes the configuration in force on this node.
	// Concurrency-safe, non-blocking.
	Config() (ConfigInfo, error)
	// ApplyConfig validates a whole config file and, unless it is a dry
	// run or changes nothing, commits its resource part through the
	// leader. Problems are a 400 listing every one, and nothing changes;
	// sections that only a restart can change are a 400 naming them; a
	// version other than IfMatch in force is a 412. It blocks until
	// committed. Concurrency-safe.
	ApplyConfig(ctx context.Context, req ConfigApply) (ConfigApplied, error)
	// CommitConfig commits a config change a follower forwarded (the JSON
	// of a store config change); only the leader does (else a 409). It
	// blocks until committed. Concurrency-safe.
	CommitConfig(ctx context.Context, change []byte) error
}

// ConfigInfo is GET /v1/config: which configuration is in force.
type ConfigInfo struct {
	// Version counts applies; 0 is the configuration file the daemons
	// started with. POST /v1/config takes it as If-Match.
	Version uint64    `json:"version"`
	At      time.Time `json:"applied_at,omitzero"`
	By      string    `json:"applied_by,omitempty"`
	// Summary is the configuration in force, as `vigil config validate`
	// summarises a file.
	Summary string `json:"summary"`
}

// ConfigApply is the body of POST /v1/config.
type ConfigApply struct {
	// Path is the file's absolute path on the answering node: messages
	// name it, and a relative secret_file is resolved against its
	// directory.
	Path string `json:"path"`
	// YAML is the whole file: every section is validated, and all but
	// options, resources, groups and constraints must equal the running
	// configuration's.
	YAML   string `json:"yaml"`
	DryRun bool   `json:"dry_run,omitempty"`
	// IfMatch, from the If-Match header: the version the change is based
	// on. Nil means the version in force when the node checks it (the
	// leader still refuses a change that another beat to the commit).
	IfMatch *uint64 `json:"-"`
	// By is who asks, as the handler saw them; set by the handler.
	By string `json:"-"`
}

// ConfigApplied is the answer to POST /v1/config.
type ConfigApplied struct {
	// Version is the version in force after the request: the new one if
	// it was applied.
	Version uint64 `json:"version"`
	Applied bool   `json:"applied"`
	// Changes say what changes (or, in a dry run, would), one line per
	// resource, group, constraint or option: "+ resource db (exec)".
	Changes []string `json:"changes"`
	// Actions are what the scheduler plans with the new configuration.
	Actions []Action `json:"actions"`
}

// routeConfig registers the config endpoints if b serves them.
func (h *Handler) routeConfig(b Backend) {
	cb, ok := b.(ConfigBackend)
	if !ok {
		return
	}
	h.handle("GET /v1/config", func(w http.ResponseWriter, r *http.Request) error {
		info, err := cb.Config()
		if err != nil {
			return err
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(info.Version, 10)))
		writeJSON(w, http.StatusOK, info)
		return nil
	})
	h.handle("POST /v1/config", func(w http.ResponseWriter, r *http.Request) error {
		var req ConfigApply
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if m := r.Header.Get("If-Match"); m != "" {
			v, err := strconv.ParseUint(strings.Trim(m, `"`), 10, 64)
			if err != nil {
				return &Error{Status: http.StatusBadRequest, Field: "If-Match", Message: fmt.Sprintf("want a config version such as \"3\", not %q", m)}
			}
			req.IfMatch = &v
		}
		req.By = by(r)
		out, err := cb.ApplyConfig(r.Context(), req)
		if err != nil {
			return err
		}
		if out.Changes == nil {
			out.Changes = []string{}
		}
		if out.Actions == nil {
			out.Actions = []Action{}
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(out.Version, 10)))
		writeJSON(w, http.StatusOK, out)
		return nil
	})
	h.handle("POST /v1/internal/config", commitEndpoint(cb.CommitConfig))
}
