package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// dbusConn is conn over go-systemd's D-Bus client: the system bus, or
// systemd's private socket when the bus is down and vigil is root. It
// connects at first use and again after the connection is lost. D-Bus
// types stay in this file.
type dbusConn struct {
	mu sync.Mutex
	c  *sddbus.Conn
}

// get returns a live connection, dialing one if needed.
func (d *dbusConn) get(ctx context.Context) (*sddbus.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != nil && d.c.Connected() {
		return d.c, nil
	}
	if d.c != nil {
		d.c.Close()
		d.c = nil
	}
	c, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil && os.Geteuid() == 0 {
		// The bus may be down while systemd runs; root can talk to it
		// directly, as systemctl does.
		var perr error
		if c, perr = sddbus.NewSystemdConnectionContext(ctx); perr != nil {
			err = fmt.Errorf("system bus: %w; private socket: %w", err, perr)
		} else {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	d.c = c
	return c, nil
}

// StartUnit implements conn.
func (d *dbusConn) StartUnit(ctx context.Context, unit string, result chan<- string) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.StartUnitContext(ctx, unit, "replace", result)
	return jobError(err)
}

// StopUnit implements conn.
func (d *dbusConn) StopUnit(ctx context.Context, unit string, result chan<- string) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.StopUnitContext(ctx, unit, "replace", result)
	return jobError(err)
}

// ResetFailed implements conn.
func (d *dbusConn) ResetFailed(ctx context.Context, unit string) error {
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	err = c.ResetFailedUnitContext(ctx, unit)
	if err := jobError(err); err != nil && !errors.Is(err, errNoSuchUnit) {
		return err
	}
	return nil
}

// State implements conn.
func (d *dbusConn) State(ctx context.Context, unit string) (unitState, error) {
	c, err := d.get(ctx)
	if err != nil {
		return unitState{}, err
	}
	props, err := c.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return unitState{}, fmt.Errorf("read properties of %s: %w", unit, err)
	}
	st := unitState{
		LoadState:   str(props["LoadState"]),
		ActiveState: str(props["ActiveState"]),
		SubState:    str(props["SubState"]),
	}
	if st.ActiveState == "" {
		return unitState{}, fmt.Errorf("read properties of %s: no ActiveState", unit)
	}
	if st.ActiveState == "failed" || strings.HasPrefix(st.SubState, "auto-restart") {
		st.Result = d.result(ctx, c, unit)
	}
	return st, nil
}

// result reads the Result property of unit's type-specific interface
// (Service, Socket, Mount, …), or "" if the type has none.
func (d *dbusConn) result(ctx context.Context, c *sddbus.Conn, unit string) string {
	i := strings.LastIndexByte(unit, '.')
	if i < 0 || i == len(unit)-1 {
		return ""
	}
	typ := strings.ToUpper(unit[i+1:i+2]) + unit[i+2:]
	p, err := c.GetUnitTypePropertyContext(ctx, unit, typ, "Result")
	if err != nil {
		return ""
	}
	return str(p.Value.Value())
}

// Close implements conn.
func (d *dbusConn) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != nil {
		d.c.Close()
		d.c = nil
	}
}

// jobError turns systemd's "no such unit" D-Bus error into errNoSuchUnit.
// The caller names the operation and the unit.
func jobError(err error) error {
	if err == nil {
		return nil
	}
	var name string
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &de):
		name = de.Name
	case errors.As(err, &dep):
		name = dep.Name
	}
	if name == "org.freedesktop.systemd1.NoSuchUnit" {
		return fmt.Errorf("%w (systemd: %v)", errNoSuchUnit, err)
	}
	return fmt.Errorf("systemd: %w", err)
}

// str returns v if it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}
