// Package lab builds a real vigil cluster on one Linux machine and injects
// faults into it. It is the demo a new user runs first and the ground every
// integration test stands on.
//
// A lab named NAME has one bridge per link (NAME-b0, NAME-b1, …), one network
// namespace per node (NAME-n1 … NAME-nN) joined to every bridge by a veth
// (host side NAME-n<k>l<i>, inside eth<i>), and a client namespace
// (NAME-client) on link 0 only. Node k has 198.18.<i>.<k>/24 on link i; the
// client has 198.18.0.250/24. The host itself has no address on the lab
// networks, and the lab never uses an address outside 198.18.0.0/15.
//
// Each node runs one daemon inside its namespace, in its own session so that
// it outlives the command that started it. The lab's state lives in
// DIR/lab.json, and /run/vigil/lab/NAME.json records DIR so that a later
// process given only the name finds the lab (Open, Down).
//
// Each node also has an emulated hardware watchdog: a process of its own
// (`vigil lab watchdog`) in the host's namespace, so that freezing the node
// does not freeze it, reading the FIFO DIR/<node>/watchdog. A daemon started
// with --watchdog feeds it one byte at a time and disarms it with 'V' and a
// close; once fed, a watchdog that hears nothing for its timeout, or sees
// the daemon go without the 'V', resets the node: it kills every process in
// the namespace and removes every address but the node's own, so that a
// floating IP never outlives its daemon's lease (DESIGN.md invariant 1).
// See watchdog.go for the protocol.
//
// The lab also has a fencing device for its nodes: DIR/fence_vigil_lab, a
// fence agent that speaks the protocol of Debian's fence-agents (key=value
// lines on stdin, the answer in the exit code), so that the daemons fence
// lab nodes through the code that drives fence_ipmilan. Its off cuts a
// node's cables, kills everything in its namespace and removes its
// floating addresses; on boots it again; it can be broken on purpose. See
// fencer.go for the protocol and Lab.FenceAgent.
//
// Faults act on the kernel, not on the daemons: Kill freezes every process of
// a node and cuts its cables, Partition and Loss install nftables rules
// (table inet vigil_lab) that an operator can read with `nft list ruleset`
// inside the namespace.
//
// The lab needs root. Commands (ip, nft) go through a small host interface so
// that unit tests record them as text; process inspection and signals use
// /proc and pidfds directly.
package lab
