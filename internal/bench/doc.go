// Package bench measures failover as a client sees it: it repeats a fault
// in a lab (a hard node kill, a daemon kill, a service kill, or a soak
// under packet loss), probes the floating IP from the lab's client
// namespace all along, and reports every trial's outage with its min,
// median, p90 and max, the failovers that should not have happened, and
// the time two nodes held the floating IP at once.
//
// The same faults and the same prober run against each System: vigil's own
// daemons, or Keepalived on the same lab nodes, so that the figures compare.
//
// The measuring is pure and tested on fixed data: FindOutage and Outages
// read a trial's probes (Shot), Summarize gives the order statistics, and
// Timeline turns the holder sampler's readings into double-holder time and
// moves. Prober, Sampler, the Systems and Run do the I/O.
package bench
