// Package web is vigil's dashboard: one HTML page with its stylesheet and
// script, embedded in the binary and served by every daemon. The page
// talks only to the node's HTTP API (GET /v1/status, /v1/events and the
// /v1/stream of server-sent events; the operator endpoints for its
// buttons), with relative URLs, so it works wherever the daemon mounts it
// (at /ui/, with the API at /v1/). It loads nothing from anywhere else:
// no framework, no CDN, no build step, and its Content-Security-Policy
// forbids any other origin.
//
// The static files carry no secret and need no token; the API they call
// does, and the page asks for one when the API answers 401.
package web
