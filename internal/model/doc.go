// Package model holds vigil's domain types as plain data: the validated
// cluster configuration, node states and the replicated cluster state.
// It imports the standard library only, so that every decision package
// (config, quorum, detect, scheduler, lease) can share it without cycles.
package model
