package cli_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sidecarize/sidecarize/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sidecarize": func() { os.Exit(cli.Main()) },
		// kubectl finds plugins as kubectl-<name> on PATH.
		"kubectl-sidecarize": func() { os.Exit(cli.Main()) },
		// exitcode N CMD ARGS... runs CMD and succeeds only if it exits N.
		"exitcode": exitcode,
		// nocaps CMD ARGS... runs CMD without root's power to ignore file
		// permissions (see nocaps).
		"nocaps": nocaps,
		// onlyroot CMD ARGS... runs CMD as root that cannot chown (see
		// onlyroot).
		"onlyroot": onlyroot,
	})
}

// TestScripts runs testdata/script/<command>_<aspect>.txtar. UPDATE_GOLDEN=1
// rewrites the expected output inside the archives.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mknod":    cmdMknod,
			"chown":    cmdChown,
			"setmode":  cmdSetmode,
			"fileinfo": cmdFileinfo,
			"lsdir":    cmdLsdir,
		},
	})
}

func exitcode() {
	want, err := strconv.Atoi(os.Args[1])
	if err != nil || len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: exitcode N CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	got := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		got = ee.ExitCode()
	}
	if got != want {
		fmt.Fprintf(os.Stderr, "exit status %d, want %d\n", got, want)
		os.Exit(1)
	}
}

// nocaps runs a command so that file permissions hold even for root: as
// root, in a new user namespace with no uid mapping, where the process keeps
// its uid (so owner permission bits apply) but has no capability over files
// of the parent namespace (CAP_DAC_OVERRIDE does not apply). A directory
// chmod'ed 0555 is then really unwritable. Without root it runs the command
// as it is.
func nocaps() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nocaps CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "nocaps:", err)
		os.Exit(2)
	}
}

// onlyroot runs a command as root in a new user namespace where only root
// is mapped: it may write root's files and directories, but files of other
// users show as owned by the overflow uid, and it cannot chown anything to
// them — as a non-root user cannot give a file away.
func onlyroot() {
	if len(os.Args) < 2 || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "usage (as root): onlyroot CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "onlyroot:", err)
		os.Exit(2)
	}
}

// mknod fifo PATH | mknod char PATH MAJOR MINOR
func cmdMknod(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mknod fifo PATH | mknod char PATH MAJOR MINOR")
	}
	path := ts.MkAbs(args[1])
	switch args[0] {
	case "fifo":
		ts.Check(syscall.Mkfifo(path, 0o644))
	case "char":
		if len(args) != 4 {
			ts.Fatalf("usage: mknod char PATH MAJOR MINOR")
		}
		major, err1 := strconv.Atoi(args[2])
		minor, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil {
			ts.Fatalf("mknod: bad device numbers")
		}
		ts.Check(syscall.Mknod(path, syscall.S_IFCHR|0o666, major<<8|minor))
	default:
		ts.Fatalf("mknod: unknown type %q", args[0])
	}
}

// chown UID:GID PATH
func cmdChown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: chown UID:GID PATH")
	}
	u, g, _ := strings.Cut(args[0], ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		ts.Fatalf("chown: bad owner %q", args[0])
	}
	ts.Check(os.Lchown(ts.MkAbs(args[1]), uid, gid))
}

// setmode OCTAL PATH sets the mode bits, setuid, setgid and sticky included
// (the builtin chmod takes permission bits only).
func cmdSetmode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setmode OCTAL PATH")
	}
	m, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("setmode: %v", err)
	}
	ts.Check(syscall.Chmod(ts.MkAbs(args[1]), uint32(m)))
}

// fileinfo PATH prints "type=… uid=… gid=… mode=…" of PATH itself (not
// following a symlink): type is file, symlink, fifo, char or dir; mode is
// octal with setuid/setgid/sticky.
func cmdFileinfo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fileinfo PATH")
	}
	var st syscall.Stat_t
	ts.Check(syscall.Lstat(ts.MkAbs(args[0]), &st))
	typ := "other"
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		typ = "file"
	case syscall.S_IFLNK:
		typ = "symlink"
	case syscall.S_IFIFO:
		typ = "fifo"
	case syscall.S_IFCHR:
		typ = "char"
	case syscall.S_IFDIR:
		typ = "dir"
	}
	fmt.Fprintf(ts.Stdout(), "type=%s uid=%d gid=%d mode=%04o\n", typ, st.Uid, st.Gid, st.Mode&0o7777)
}

// lsdir DIR prints "DIR:", then every name in DIR (as DIR/name), hidden
// ones included, one a line.
func cmdLsdir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lsdir DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	ts.Check(err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Fprintf(ts.Stdout(), "%s:\n", args[0])
	for _, n := range names {
		fmt.Fprintln(ts.Stdout(), filepath.Join(args[0], n))
	}
}
