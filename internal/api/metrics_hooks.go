package api

import "net/http"

// Mount serves handler at pattern (an http.ServeMux pattern, such as "GET
// /metrics") behind the same token check as the API's own routes, and
// counted under that pattern by a wrapping middleware. It lets the daemon
// add endpoints that this package does not own. Call it before the Handler
// serves; like ServeMux.Handle it panics if pattern conflicts with a route.
func (h *Handler) Mount(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }
