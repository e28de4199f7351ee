// Package archtest holds only tests: they enforce vigil's package
// architecture, the one-way direction of imports between the internal
// packages and a doc comment on every package, by reading `go list`.
package archtest
