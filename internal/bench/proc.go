package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot. With the PID it names one process for good.
func startTime(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// Fields after the command's closing paren start at field 3.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return rest[19], nil
}

// signalPID sends sig to pid through a pidfd, so that the process cannot
// be swapped for another between the check and the signal: if start is
// not "", the process must have that start time.
func signalPID(pid int, start string, sig unix.Signal) error {
	if pid < 2 {
		return fmt.Errorf("signal pid %d: not a process to signal", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if start != "" {
		got, err := startTime(pid)
		if err != nil {
			return err
		}
		if got != start {
			return fmt.Errorf("pid %d is another process now: it started at %s, not %s", pid, got, start)
		}
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

// KillService SIGKILLs the process that vigil's exec agent runs for a
// resource, named by the agent's pid file ("PID STARTTIME BOOTID"). The
// process is pinned by a pidfd and its start time checked, so a reused
// PID is never killed.
func KillService(pidFile string) error {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("kill service: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return fmt.Errorf("kill service: pid file %s: %q: want PID STARTTIME", pidFile, data)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("kill service: pid file %s: %q: want PID STARTTIME", pidFile, data)
	}
	if err := signalPID(pid, f[1], unix.SIGKILL); err != nil {
		return fmt.Errorf("kill service of %s: %w", pidFile, err)
	}
	return nil
}
