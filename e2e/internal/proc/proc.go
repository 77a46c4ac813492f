// Package proc starts child processes that die with the test process.
//
// Pdeathsig fires when the *thread* that forked the child ends, not the
// process; Go ends threads whose goroutine exits while locked (which the pod
// simulator's network-namespace code does). So each child is forked from a
// locked thread that lives exactly as long as the child.
package proc

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Start starts cmd with Pdeathsig=SIGKILL from a dedicated OS thread. If
// setup is not nil it runs on that thread first (e.g. setns). done is closed
// after cmd has exited and been waited for (cmd.ProcessState is then set).
func Start(cmd *exec.Cmd, setup func() error) (done <-chan struct{}, err error) {
	started := make(chan error, 1)
	d := make(chan struct{})
	go func() {
		defer close(d)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if setup != nil {
			if err := setup(); err != nil {
				started <- err
				return
			}
		}
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
	}()
	if err := <-started; err != nil {
		<-d
		return nil, err
	}
	return d, nil
}
