// Package systemd speaks to the service manager: the sd_notify protocol for
// Type=notify units and their watchdog. The unit file tweedie.service sits
// beside this file.
package systemd

import (
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends a state to the service manager over the datagram socket
// named by $NOTIFY_SOCKET, the sd_notify protocol of systemd (man
// sd_notify(3): newline-separated VAR=VALUE assignments such as
// "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=…" in one datagram; a name
// starting with "@" is in the abstract namespace). It is a no-op, returning
// false, when the variable is unset.
func Notify(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}

// WatchdogInterval returns how often to send "WATCHDOG=1": half of
// $WATCHDOG_USEC (sd_watchdog_enabled(3)), when the watchdog is on and
// meant for this process ($WATCHDOG_PID unset or ours); 0 otherwise.
func WatchdogInterval() time.Duration {
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}
