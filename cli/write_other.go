//go:build !unix

package cli

import "io/fs"

// fileID: without inode numbers (Windows), two paths to one file are
// recognised only by their resolved path.
func fileID(fs.FileInfo) (string, bool) { return "", false }

// owner: no uid/gid to keep (Windows).
func owner(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

// links: not counted (Windows).
func links(fs.FileInfo) (uint64, bool) { return 0, false }
