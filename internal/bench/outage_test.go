package bench

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func good(sent, done int, node string) Shot {
	return Shot{Sent: at(sent), Done: at(done), OK: true, Node: node}
}

func bad(sent, done int) Shot { return Shot{Sent: at(sent), Done: at(done), Err: "timeout"} }

// FindOutage is the measure; these cases pin what it counts.
func TestFindOutage(t *testing.T) {
	moved := Target{Fault: at(0), From: "n1", Move: true}
	inPlace := Target{Fault: at(0), From: "n1"}
	cases := []struct {
		name   string
		shots  []Shot
		target Target
		want   string // "outage sent failed gap to", or "none"
	}{
		{"a failure before the fault does not start the outage",
			[]Shot{bad(-20, 480), good(0, 1, "n1"), bad(10, 510), bad(20, 520), good(30, 31, "n2")}, moved,
			"21ms 3 2 10ms n2"},
		{"the first good reply is the first to arrive, not the first sent",
			[]Shot{bad(0, 500), good(10, 300, "n2"), good(20, 200, "n2")}, moved,
			"200ms 3 1 10ms n2"},
		{"a reply from the old holder does not end a move",
			[]Shot{bad(0, 500), good(10, 11, "n1"), good(40, 41, "n2")}, moved,
			"41ms 3 1 30ms n2"},
		{"a reply from the old holder ends a restart in place",
			[]Shot{good(0, 1, "n1"), bad(10, 20), bad(20, 30), good(30, 35, "n1")}, inPlace,
			"25ms 3 2 10ms n1"},
		{"a restart in place needs a failure first",
			[]Shot{good(0, 1, "n1"), good(10, 11, "n1")}, inPlace, "none"},
		{"a probe cut short is sent but not failed",
			[]Shot{bad(0, 500), {Sent: at(10), Done: at(50), Cut: true}, good(20, 30, "n2")}, moved,
			"30ms 3 1 10ms n2"},
		{"a move with no failed probe is an outage of 0",
			[]Shot{good(0, 1, "n1"), good(10, 12, "n2"), bad(20, 520)}, moved,
			"0s 0 0 0s n2"},
		{"a failure sent before the move's reply arrived counts",
			[]Shot{good(0, 1, "n1"), bad(5, 505), good(10, 30, "n2")}, moved,
			"25ms 2 1 5ms n2"},
		{"no good reply yet",
			[]Shot{bad(0, 500), good(10, 11, "n1")}, moved, "none"},
		{"no failure and no move yet",
			[]Shot{good(0, 1, "n1"), good(10, 11, "n1")}, moved, "none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, ok := FindOutage(c.shots, c.target)
			got := "none"
			if ok {
				got = fmt.Sprintf("%v %d %d %v %s", w.Outage(), w.Sent, w.Failed, w.Gap, w.To)
				if w.From != "n1" {
					t.Errorf("From = %q, want n1", w.From)
				}
			}
			if got != c.want {
				t.Errorf("FindOutage = %s, want %s", got, c.want)
			}
		})
	}
}

// Outages is how a soak sees the client's service.
func TestOutages(t *testing.T) {
	shots := []Shot{
		bad(-10, 490),                  // before the soak: not counted
		good(0, 2, "n1"), bad(10, 510), // one failed probe
		good(20, 23, "n1"), good(30, 32, "n1"),
		bad(40, 540), bad(50, 550), {Sent: at(55), Done: at(60), Cut: true}, good(60, 70, "n1"),
		bad(90, 590), // after the soak's end (90): not counted
		bad(85, 585), // runs to the end of the shots
	}
	var got []string
	for _, w := range Outages(shots, at(0), at(90)) {
		got = append(got, fmt.Sprintf("%v %d/%d", w.Outage(), w.Failed, w.Sent))
	}
	want := []string{"13ms 1/2", "30ms 2/3", "505ms 2/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Outages = %v, want %v", got, want)
	}
}

func TestSteady(t *testing.T) {
	shots := []Shot{bad(0, 500), good(10, 11, "n1"), good(20, 21, "n1"), good(30, 31, "n1")}
	if n, ok := Steady(shots, 3); !ok || n != "n1" {
		t.Errorf("Steady(3) = %q, %v; want n1, true", n, ok)
	}
	if _, ok := Steady(shots, 4); ok {
		t.Errorf("Steady(4) holds with a failure among the last 4")
	}
	mixed := append(shots, good(40, 41, "n2"))
	if _, ok := Steady(mixed, 3); ok {
		t.Errorf("Steady holds with two nodes answering")
	}
}
