package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is the one error shape of the API:
// {"status": 404, "error": "…", "field": "…"}.
type Error struct {
	Status  int    `json:"status"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"` // the input field at fault, if any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with the status and message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// writeError sends err as an Error; an error that is not one is a 500.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
