package exec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// procStat is what vigil reads of /proc/PID/stat.
type procStat struct {
	state byte   // R, S, D, Z, …
	pgrp  int    // process group
	start uint64 // start time, in clock ticks since boot
}

// gone reports whether the process has exited (a zombie has, and only
// waits for its parent to reap it).
func (st procStat) gone() bool { return st.state == 'Z' || st.state == 'X' || st.state == 'x' }

// parseStat parses the content of /proc/PID/stat. The command name (field
// 2) is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return procStat{}, errors.New("malformed stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed stat: too few fields")
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat: pgrp %q", f[2])
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat: starttime %q", f[19])
	}
	return procStat{state: f[0][0], pgrp: pgrp, start: start}, nil
}

// readStat reads the stat of process pid; os.ErrNotExist if there is none.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			err = os.ErrNotExist // the process went away while being read
		}
		return procStat{}, err
	}
	return parseStat(b)
}

// groupMembers returns the processes of group pgid that have not exited
// (zombies excluded: they are dead, whether or not anyone reaps them).
func groupMembers(pgid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if st.pgrp == pgid && !st.gone() {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// pidfile is what <StateDir>/<id>.pid records of a started process: its
// PID (which is also its process group), its start time and the boot it
// started in, so that neither a reused PID nor a reboot is mistaken for it.
type pidfile struct {
	pid   int
	start uint64
	boot  string
}

func (p pidfile) String() string { return fmt.Sprintf("%d %d %s\n", p.pid, p.start, p.boot) }

// parsePidfile parses "PID STARTTIME BOOTID\n".
func parsePidfile(b []byte) (pidfile, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return pidfile{}, fmt.Errorf("malformed pid file %q (want PID STARTTIME BOOTID)", bytes.TrimSpace(b))
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid < 2 {
		return pidfile{}, fmt.Errorf("malformed pid file %q (want PID STARTTIME BOOTID)", bytes.TrimSpace(b))
	}
	return pidfile{pid: pid, start: start, boot: f[2]}, nil
}

// readPidfile reads path; os.ErrNotExist if there is none.
func readPidfile(path string) (pidfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidfile{}, err
	}
	p, err := parsePidfile(b)
	if err != nil {
		return pidfile{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// writePidfile writes p to path atomically (a reader sees the old file or
// the whole new one).
func writePidfile(path string, p pidfile) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pid-*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(p.String())
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// liveness is what became of the process a pid file names.
type liveness int

const (
	// alive: the very process runs (same PID, start time and boot).
	alive liveness = iota
	// exited: it has exited, and its PID is not reused; members of its
	// process group may survive it.
	exited
	// replaced: its PID now belongs to another process or another boot,
	// so its process group is long empty and must not be signalled.
	replaced
)

// check finds out what became of p's process, in the boot boot.
func (p pidfile) check(boot string) (liveness, error) {
	if p.boot != boot {
		return replaced, nil
	}
	st, err := readStat(p.pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A PID is not reused while a process group of that number has
		// members, so any member of group pid is a survivor of p's group.
		return exited, nil
	case err != nil:
		return 0, fmt.Errorf("process %d: %w", p.pid, err)
	case st.start != p.start:
		return replaced, nil
	case st.gone():
		return exited, nil
	}
	return alive, nil
}

// readBootID returns the kernel's boot ID.
func readBootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, " \t\n") {
		return "", fmt.Errorf("malformed boot id %q", id)
	}
	return id, nil
}

// describe says how a process ended.
func describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		name := unix.SignalName(ws.Signal())
		if name == "" {
			name = strconv.Itoa(int(ws.Signal()))
		}
		return "killed by signal " + name
	default:
		return "ended (" + ws.Signal().String() + ")"
	}
}
