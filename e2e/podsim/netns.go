package podsim

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sidecarize/sidecarize/e2e/internal/proc"
)

// NetNS is a network namespace of its own, as a pod has: it is held open by a
// sleeping process started with CLONE_NEWNET (what `unshare -n` does), and
// its loopback interface is up. Needs root (CAP_SYS_ADMIN).
type NetNS struct {
	holder *exec.Cmd
	// Path is /proc/<holder>/ns/net.
	Path string
}

// NewNetNS creates the namespace and brings lo up.
func NewNetNS() (*NetNS, error) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(sleep, "86400")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	n := &NetNS{holder: cmd}
	if _, err := proc.Start(cmd, nil); err != nil {
		return nil, fmt.Errorf("podsim: new network namespace (needs root): %w", err)
	}
	n.Path = fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	if err := n.Do(func() error { return linkUp("lo") }); err != nil {
		n.Close()
		return nil, fmt.Errorf("podsim: loopback up: %w", err)
	}
	return n, nil
}

// Close ends the holder process; the namespace goes away with the last
// process in it.
func (n *NetNS) Close() {
	if n.holder != nil && n.holder.Process != nil {
		n.holder.Process.Kill()
	}
}

// Start starts cmd inside the namespace; it is killed if this process dies.
// done is closed when it has exited (cmd.ProcessState is then set).
func (n *NetNS) Start(cmd *exec.Cmd) (done <-chan struct{}, err error) {
	return proc.Start(cmd, n.join)
}

func (n *NetNS) join() error {
	f, err := os.Open(n.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", n.Path, err)
	}
	return nil
}

// Do runs fn on an OS thread that has joined the namespace: sockets fn creates
// and processes it starts belong to the namespace. The thread is thrown away
// afterwards (the goroutine never unlocks it).
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := n.join(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// DialContext dials from inside the namespace.
func (n *NetNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (n *NetNS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
