package daemon

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// journal is this node's event history: the cluster's events, which the
// store derives from the log and keeps, and this node's own observations
// (its quorum, its links, the leader it follows, fencing it runs), kept
// here and lost with the daemon. It hands every new event to subscribers
// (the stream, alert hooks) without ever waiting for them.
type journal struct {
	self model.NodeID

	mu    sync.Mutex
	local []model.Event // oldest first, at most maxLocalEvents
	subs  map[chan model.Event]struct{}
	// Dropped counts events a slow subscriber missed.
	Dropped atomic.Uint64
}

// maxLocalEvents bounds a node's own observations.
const maxLocalEvents = 1000

// subscriberBuffer is how many events a subscriber may fall behind.
const subscriberBuffer = 256

func newJournal(self model.NodeID) *journal {
	return &journal{self: self, subs: map[chan model.Event]struct{}{}}
}

// note records one of this node's observations.
func (j *journal) note(kind model.EventKind, node model.NodeID, format string, args ...any) {
	e := model.Event{At: time.Now().UTC(), Kind: kind, Node: node, Message: fmt.Sprintf(format, args...), By: string(j.self), Local: true}
	j.mu.Lock()
	j.local = append(j.local, e)
	if n := len(j.local) - maxLocalEvents; n > 0 {
		j.local = append(j.local[:0:0], j.local[n:]...)
	}
	j.mu.Unlock()
	j.publish(e)
}

// publish hands e to every subscriber that has room.
func (j *journal) publish(e model.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for ch := range j.subs {
		select {
		case ch <- e:
		default:
			j.Dropped.Add(1)
		}
	}
}

// subscribe returns a channel of every event from now on.
func (j *journal) subscribe() (<-chan model.Event, func()) {
	ch := make(chan model.Event, subscriberBuffer)
	j.mu.Lock()
	j.subs[ch] = struct{}{}
	j.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			j.mu.Lock()
			delete(j.subs, ch)
			j.mu.Unlock()
		})
	}
}

// list merges the store's events with this node's, oldest first, and
// keeps the newest limit of those q selects.
func (j *journal) list(st *store.Store, q api.EventQuery) []model.Event {
	var all []model.Event
	if st != nil {
		all = st.Events(q.After, 0)
	}
	if q.After == 0 { // local events have no number; "after N" follows the cluster's
		j.mu.Lock()
		all = append(all, j.local...)
		j.mu.Unlock()
	}
	all = slices.DeleteFunc(all, func(e model.Event) bool { return !q.Since.IsZero() && e.At.Before(q.Since) })
	slices.SortStableFunc(all, func(a, b model.Event) int { return a.At.Compare(b.At) })
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[len(all)-q.Limit:]
	}
	return all
}

// follow publishes the store's events as they are applied, until ctx
// ends. A follower that installs a snapshot may skip numbers: it
// publishes what it has.
func (j *journal) follow(ctx context.Context, getStore func() *store.Store) {
	var last uint64
	for ctx.Err() == nil {
		st := getStore()
		if st == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		changed := st.Changed()
		for _, e := range st.Events(last, 0) {
			last = max(last, e.Seq)
			j.publish(e)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// observer notes this node's own view changing: quorum, leader, links.
type observer struct {
	quorate bool
	leader  model.NodeID
	links   map[linkKey]model.NodeState
	damped  map[model.NodeID]string
	started bool
}

type linkKey struct {
	peer model.NodeID
	link int
}

// look compares the view now with the one before and notes changes.
func (o *observer) look(j *journal, n *node) {
	v := n.vote(n.observe())
	var leader model.NodeID
	if st := n.getStore(); st != nil {
		leader = st.Leader()
	}
	links := map[linkKey]model.NodeState{}
	for _, p := range n.det.Snapshot().Peers {
		for _, l := range p.Links {
			links[linkKey{p.Name, l.Index}] = l.State
		}
	}
	damped := n.damped()
	if !o.started {
		o.quorate, o.leader, o.links, o.damped, o.started = v.Quorate, leader, links, damped, true
		return
	}
	for _, p := range slices.Sorted(maps.Keys(damped)) {
		if _, was := o.damped[p]; !was {
			j.note(model.EventDamped, p, "%s is damped: kept from new placements (%s)", p, damped[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(o.damped)) {
		if _, is := damped[p]; !is {
			j.note(model.EventUndamped, p, "%s is no longer damped", p)
		}
	}
	if v.Quorate != o.quorate {
		if v.Quorate {
			j.note(model.EventQuorumGained, n.cfg.Self, "quorum gained: %s", v.Reasoned)
		} else {
			j.note(model.EventQuorumLost, n.cfg.Self, "quorum lost: %s", v.Reasoned)
		}
	}
	if leader != o.leader {
		if leader == "" {
			j.note(model.EventLeader, "", "no leader (was %s)", o.leader)
		} else {
			j.note(model.EventLeader, leader, "%s leads", leader)
		}
	}
	keys := slices.SortedFunc(maps.Keys(links), func(a, b linkKey) int {
		return cmp.Or(cmp.Compare(a.peer, b.peer), cmp.Compare(a.link, b.link))
	})
	for _, k := range keys {
		switch was, now := o.links[k], links[k]; {
		case was == now || was == "":
		case now == model.NodeOffline:
			j.note(model.EventLinkDown, k.peer, "link %d to %s is down", k.link, k.peer)
		case was == model.NodeOffline:
			j.note(model.EventLinkUp, k.peer, "link %d to %s is up again", k.link, k.peer)
		}
	}
	o.quorate, o.leader, o.links, o.damped = v.Quorate, leader, links, damped
}

// watch notes this node's view every tick until ctx ends.
func (o *observer) watch(ctx context.Context, j *journal, n *node, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.look(j, n)
		}
	}
}

// toAPI is an event on the wire.
func toAPI(e model.Event) api.Event {
	return api.Event{Seq: e.Seq, At: e.At, Kind: string(e.Kind), Node: string(e.Node), Resource: string(e.Resource),
		Message: e.Message, By: e.By, Local: e.Local}
}

// Events implements api.EventBackend.
func (n *node) Events(q api.EventQuery) []api.Event {
	evs := n.journal.list(n.getStore(), q)
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		out[i] = toAPI(e)
	}
	return out
}

// Subscribe implements api.EventBackend.
func (n *node) Subscribe() (<-chan api.Event, func()) {
	in, cancel := n.journal.subscribe()
	out := make(chan api.Event, subscriberBuffer)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case e := <-in:
				select {
				case out <- toAPI(e):
				case <-done:
					return
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			cancel()
			close(done)
		})
	}
}

// alertEvents are the events alert hooks are run for: this node's own
// observations, and the cluster's events on the node that leads when it
// applies them, so that one event pages once and not once per node. The
// history a restarted daemon replays (events older than the daemon) is
// not alerted again. A cluster event committed just before its leader
// died may page nobody: events are a record, alerts a best effort.
func (n *node) alertEvents(ctx context.Context) <-chan model.Event {
	started := time.Now().Add(-time.Second) // the daemon's own clock; events carry the leader's
	in, cancel := n.journal.subscribe()
	out := make(chan model.Event, subscriberBuffer)
	go func() {
		defer cancel()
		defer close(out)
		for {
			var e model.Event
			select {
			case <-ctx.Done():
				return
			case e = <-in:
			}
			if !e.Local {
				st := n.getStore()
				if e.At.Before(started) || st == nil || !st.IsLeader() {
					continue
				}
			}
			select {
			case out <- e:
			default:
				n.journal.Dropped.Add(1) // the runner's own queues never block: not reached in practice
			}
		}
	}()
	return out
}
