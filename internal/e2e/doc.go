// Package e2e holds the root-only tests that run a real lab cluster: real
// vigil daemons in network namespaces, driven through the vigil binary the
// way an operator drives it. They skip, saying why, only where the machine
// cannot create network namespaces.
package e2e
