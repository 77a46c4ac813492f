package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Writing files (-o, -i) is all-or-nothing where the file system allows it:
//
//  1. Every target is resolved: a symlink is followed (to its final target,
//     which may not exist yet) so the write goes through the link and the
//     link itself stays. Two outputs that reach the same file are an error.
//  2. Every regular (or new) target gets its output staged in a temporary
//     file in the target's own directory (so the rename cannot cross file
//     systems), synced, with the target's owner, group and mode (setuid,
//     setgid and sticky bits included). A new file gets 0644.
//  3. Targets that are not regular files (a device such as /dev/null or
//     /dev/full, a FIFO, /dev/stdout) are opened and written directly: they
//     are never replaced. A write error (ENOSPC on /dev/full) is an error.
//  4. Only then is every staged file renamed over its target, after a last
//     look at every file -i read: one that no longer holds what was read
//     was changed by someone else meanwhile, and nothing is replaced.
//
// A file with other hard links gets a new file under the name written (the
// rename); its other names keep the old content, and the report says so.
//
// A failure in 1–3 removes every staged file (and the directories -o
// created), so no target has changed, except a device or FIFO already
// written in 3 (those cannot be taken back; they are written after all
// staging succeeded). A rename failing in 4 — which, with the files already
// created beside their targets, needs something else to change the
// directory meanwhile — is reported with the targets already replaced.

// target is one file to write.
type target struct {
	name string // as the user named it, for messages and the report
	data []byte
	// read is what -i read from the file (nil for -o): a file that no
	// longer holds it was changed by someone else meanwhile and is not
	// overwritten.
	read []byte

	real    string      // the path written: name with symlinks resolved
	info    fs.FileInfo // of real; nil if it does not exist
	staged  string      // the temporary file, once staged
	changed bool        // the target's content differs (or it does not exist)
	note    string      // said in the report (a file with other hard links)
}

// fileResult is one line of the files part of the report.
type fileResult struct {
	Path   string `json:"path"`
	Action string `json:"action"` // written, unchanged, would_change
	Note   string `json:"note,omitempty"`
}

// resolve follows symlinks in the last path element (up to 40, as the
// kernel does) and stats the final target. A dangling link resolves to the
// file it names.
func resolve(path string) (string, fs.FileInfo, error) {
	// A target that is not a regular file is written through its path as
	// the kernel resolves it: /dev/stdout is a link to /proc/self/fd/1, a
	// "magic" link to a pipe that has no name to follow.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return path, fi, nil
	}
	p := path
	for range 40 {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, fi, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(link) {
			// Relative to the directory the link is in, as the kernel
			// reads it: that directory's own symlinks resolved first, so
			// "../x" leaves the directory a symlinked path points to.
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				return "", nil, err
			}
			link = filepath.Join(dir, link)
		}
		p = link
	}
	return "", nil, fmt.Errorf("%s: too many levels of symbolic links", path)
}

// prepare resolves every target, refuses two names for one file, and
// compares each regular target's content with its output.
func prepare(targets []*target) error {
	seen := map[string]string{}
	for _, t := range targets {
		real, fi, err := resolve(t.name)
		if err != nil {
			return err
		}
		if fi != nil && fi.IsDir() {
			return fmt.Errorf("%s: is a directory", t.name)
		}
		t.real, t.info = real, fi
		key := real
		if abs, err := filepath.Abs(real); err == nil {
			key = abs
		}
		if fi != nil {
			if id, ok := fileID(fi); ok {
				key = id
			}
		}
		if other, ok := seen[key]; ok {
			return fmt.Errorf("%s and %s are the same file: refusing to write it twice", other, t.name)
		}
		seen[key] = t.name
		t.changed = true
		if fi != nil && fi.Mode().IsRegular() {
			old, err := os.ReadFile(real)
			if err != nil {
				return err
			}
			t.changed = !bytes.Equal(old, t.data)
			if n, ok := links(fi); ok && n > 1 && t.changed {
				t.note = fmt.Sprintf("it had %d hard links: the other names keep the old content", n)
			}
		}
	}
	return nil
}

// unchangedSinceRead refuses to overwrite a file (-i) whose content is no
// longer what was read from it.
func (t *target) unchangedSinceRead(now []byte) error {
	if t.read != nil && !bytes.Equal(now, t.read) {
		return fmt.Errorf("%s: changed since sidecarize read it: not overwritten (run it again)", t.name)
	}
	return nil
}

// regular reports whether the target is (or will be) a regular file,
// replaced by a rename.
func (t *target) regular() bool { return t.info == nil || t.info.Mode().IsRegular() }

// writeTargets writes every changed target, all or nothing (see above),
// and returns what happened to each.
func writeTargets(targets []*target) ([]fileResult, error) {
	if err := prepare(targets); err != nil {
		return nil, err
	}
	var created []string // directories made for -o DIR, removed on failure
	cleanup := func() {
		for _, t := range targets {
			if t.staged != "" {
				os.Remove(t.staged)
				t.staged = ""
			}
		}
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i]) // only if still empty
		}
	}
	// Stage.
	for _, t := range targets {
		if !t.changed || !t.regular() {
			continue
		}
		dirs, err := mkdirs(filepath.Dir(t.real))
		created = append(created, dirs...)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		if err := stage(t); err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	// Devices, FIFOs, /dev/stdout: written directly, never replaced.
	for _, t := range targets {
		if t.regular() {
			continue
		}
		if err := writeDirect(t.real, t.data); err != nil {
			cleanup()
			return nil, err // names the file
		}
	}
	// The last look before replacing: a file -i read that someone changed
	// while the outputs were staged is not overwritten.
	for _, t := range targets {
		if t.staged == "" || t.read == nil {
			continue
		}
		now, err := os.ReadFile(t.real)
		if err == nil {
			err = t.unchangedSinceRead(now)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
	}
	// Commit.
	var done []string
	for _, t := range targets {
		if t.staged == "" {
			continue
		}
		if err := os.Rename(t.staged, t.real); err != nil {
			cleanup()
			msg := "no file was replaced"
			if len(done) > 0 {
				msg = "already replaced: " + strings.Join(done, ", ")
			}
			return nil, fmt.Errorf("%s: %w (%s)", t.name, err, msg)
		}
		t.staged = ""
		done = append(done, t.name)
	}
	var res []fileResult
	for _, t := range targets {
		action := "written"
		if !t.changed {
			action = "unchanged"
		}
		res = append(res, fileResult{Path: t.name, Action: action, Note: t.note})
	}
	return res, nil
}

// mkdirs is os.MkdirAll that returns the directories it created, outermost
// first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// stage writes t's output to a temporary file beside t.real, with the
// target's owner, group and mode.
func stage(t *target) (err error) {
	f, err := os.CreateTemp(filepath.Dir(t.real), ".sidecarize-*")
	if err != nil {
		return err
	}
	t.staged = f.Name()
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if _, err := f.Write(t.data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if t.info != nil {
		mode = t.info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		// Keep the owner and group. Only when they differ from the new
		// file's: chown needs privileges a user rewriting their own file
		// does not have. Chown clears setuid/setgid, so it comes first.
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		wantUID, wantGID, ok1 := owner(t.info)
		gotUID, gotGID, ok2 := owner(fi)
		if ok1 && ok2 && (wantUID != gotUID || wantGID != gotGID) {
			if err := f.Chown(wantUID, wantGID); err != nil {
				return fmt.Errorf("cannot keep its owner and group (uid %d, gid %d) on the new file: %w", wantUID, wantGID, err)
			}
		}
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	return f.Close()
}

// writeDirect writes to a file that is not regular (device, FIFO, pipe)
// without replacing it.
func writeDirect(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// compareTargets is --check and --diff against the targets: which would
// change. Targets that are not regular files cannot be compared.
func compareTargets(targets []*target) ([]fileResult, error) {
	if err := prepare(targets); err != nil {
		return nil, err
	}
	var res []fileResult
	for _, t := range targets {
		if !t.regular() {
			return nil, fmt.Errorf("%s: not a regular file: --check and --diff compare with files", t.name)
		}
		action := "unchanged"
		if t.changed {
			action = "would_change"
		}
		res = append(res, fileResult{Path: t.name, Action: action})
	}
	return res, nil
}

// current returns a target's present content (nil if it does not exist).
func (t *target) current() []byte {
	if t.info == nil {
		return nil
	}
	b, err := os.ReadFile(t.real)
	if err != nil {
		return nil
	}
	return b
}
