// Package scheduler decides where resources run: Schedule turns the
// configuration and the committed cluster state into a Plan (the target
// node of every resource, the ordered actions that get there, every
// node's score with the terms it is made of, and why each resource that
// will not run or cannot be touched is so). It is pure: no I/O, no clock
// (Input.Now is the time), no goroutines, no dependence on map order. The
// same function backs the coordinator, `vigil explain` and `vigil
// simulate`.
//
// The semantics follow Pacemaker 2.1 wherever vigil has the same concept;
// testdata/pacemaker compares the two on the same clusters. The
// differences are listed at the end.
//
// # Nodes
//
// A node can run resources when its committed state is online and it is
// neither in standby nor in maintenance. Every other node gets a
// -INFINITY term saying why ("node offline", "node in standby", "node in
// maintenance"). A node absent from State.Nodes, or in any committed state
// but online, is offline, and what ran there counts as not running: its
// recovery is a start elsewhere ("node n1 is offline"), unless the node is
// in Input.Held: its lease may still be valid, so what ran there is left
// where it is, like a blocked resource, until the lease has certainly
// ended (invariant 1). Whether a lease has ended, and fencing, are the
// coordinator's business; the scheduler only follows Held.
//
// # Scores
//
// A resource's score on a node is the sum (model.Score.Add: -INFINITY
// dominates, then INFINITY; finite sums clamp below the infinities) of:
// the node term above; location constraints on the resource or its group,
// configured and runtime (State.Runtime), matching the node by name or by
// attribute; stickiness on the node where it runs or failed (its own, else
// its group's, else Options.Stickiness); -INFINITY when its fail count on
// the node (not expired: Last+FailureTimeout > Now) reaches its
// migration-threshold; the colocation terms below; and the influence of
// what is colocated with it. Every term carries its reason. Stickiness
// counts where a resource failed too, as in Pacemaker, so that a failed
// resource recovers in place until its migration-threshold rather than
// move on its first failure to a node it merely ties with.
//
// # Placement
//
// What is placed is a unit: a group, or a resource in no group. Units are
// placed one at a time, in dependency order (a colocation's With before its
// Resource, a mandatory order's First before its Then; among units free to
// go, configuration order; a cycle, which colocations may form, is broken
// at its first unit in configuration order). A unit goes to its best node
// if that scores >= 0, never to a negative one. Ties go to the node with
// the fewest resources assigned so far in this run, then to the first in
// Config.Nodes. There are no priorities and no utilization.
//
// Colocation (Resource with With, score S): INFINITY allows only With's
// node (-INFINITY elsewhere), and if With will not run, Resource cannot
// either; -INFINITY bans With's node; a finite S is added on With's node.
// Chains follow. With a group as With, INFINITY needs its last member
// running (the group fully up) and a finite score its first, as in
// Pacemaker. Influence, as Pacemaker's default: when a unit is placed, the
// preferences of every unit colocated with it (their locations,
// stickiness, fail-count bans, and recursively their own dependents') are
// added to its scores, scaled by S/INFINITY (a negative S never turns a
// ban into a preference); a part that would leave no node able to run the
// unit is rolled back. So when a dependent reaches its migration-threshold
// on its primary's node, the primary moves with it if it can.
//
// Groups: members run on one node, start in member order and stop in
// reverse. A group's score is its own terms plus each member's, member by
// member; a member whose terms would leave no node able to run the group is
// rolled back, and it and every member after it stop, while the earlier
// members stay placed. So a member banned from a node by its fail count
// moves the whole group if the group can run elsewhere (checked against
// Pacemaker 2.1.5: it does the same), and stops alone if it cannot. A
// member that cannot run for any other reason (target-role stopped on it
// or its group, a mandatory order whose First will not run) stops itself
// and every member after it. The group's stickiness is thus the sum of its
// running members'.
//
// Orders (First then Then): a mandatory order keeps Then from running
// when First will not ("First db is not running (mandatory order o1)"),
// starts Then after First, stops Then before First, and restarts Then when
// First restarts, moves or is recovered from a lost node. An optional
// order only sequences the actions both have in the same plan. A group as
// First means its last member; as Then, its first.
//
// # What is not touched
//
// A blocked resource (a stop failed: vigil cannot know whether it still
// runs) gets no action and keeps its placement, wherever it is, even on an
// offline node, until it is cleaned up; so does everything that depends on
// it (an INFINITY colocation with it, a mandatory order after it,
// transitively) and every member of its group. A resource running (or
// failed) on a maintenance node is left as it is, and so is its group.
// Without quorum (invariant 4), no-quorum-policy "stop" (the default)
// stops every running resource and "freeze" leaves everything as it is;
// nothing starts either way.
//
// # Actions
//
// Each resource that changes has a stop phase (on its current node) and a
// start phase (on its target). Phases are ordered by: a resource's own stop
// before its start; group members (starts in order, stops in reverse);
// order constraints; and for a -INFINITY colocation, a start on a node
// after the other resource's stop there (so a swap never shares a node),
// as Pacemaker orders anti-colocated moves. A resource's stop and start
// become one action, a move (to another node) or a restart (in place, for a
// failed resource, "recover: …"), unless another action must come between
// them, as when a group member before it or the First of a mandatory order
// restarts: then they are a stop and a start. Actions are listed in a
// topological order (stops first, then moves and restarts, then starts,
// each in configuration order), and Action.After lists the earlier actions
// each one waits for.
//
// # Differences from Pacemaker
//
//   - Placement order. Pacemaker places resources in an order of its own
//     (by priority, then by a comparison of their node scores); vigil in
//     dependency order, then configuration order. Scores are the same, but
//     ties between equal nodes can break differently (on the
//     1,000-resource benchmark cluster, about one resource in eight lands
//     on another node of equal score). Pacemaker breaks node ties by node
//     name, vigil by Config.Nodes order.
//   - Influence is computed once per unit, bottom-up, so it stays linear in
//     the size of the cluster: a dependent's own dependents are folded into
//     its preferences (each rolled back against the dependent's scores)
//     before those are scaled into its primary's (rolled back against the
//     primary's); Pacemaker walks the whole chain for every primary and
//     rolls every level back against the primary's running total. In a
//     chain with two negative colocations (c away from b, b away from a),
//     Pacemaker turns c's preferences into an attraction for a; vigil
//     ignores them.
//   - Mandatory orders are decided during placement: a resource that cannot
//     run because its First will not is not placed at all. Pacemaker places
//     it and only blocks its start, so resources colocated with it may
//     follow it to a node where it will not run.
//   - Freezing what depends on a blocked resource, and the rest of a
//     blocked or maintenance member's group, is vigil's: Pacemaker keeps
//     managing them. Without fencing, moving them could need the blocked
//     resource to stop.
//   - One action for a move or a restart when nothing must come between
//     its stop and its start; Pacemaker's graph always has both.
//   - No probes (Pacemaker probes each resource on each node it has no
//     history for), clones, promotable resources, utilization, priorities,
//     resource-discovery or rules beyond attribute equality.
//   - A fail count below the migration-threshold, or expired, shows as a
//     zero-score term, for `vigil explain`.
package scheduler
