package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sidecarize/sidecarize/transform"
)

// runReport is the engine's report plus what the command did with files.
type runReport struct {
	*transform.Report
	// Files: what -o/-i wrote (written, unchanged) or what --check/--diff
	// compared (would_change, unchanged).
	Files []fileResult `json:"files,omitempty"`
	// Skipped: directory entries that are not regular files.
	Skipped []string `json:"skipped,omitempty"`

	check bool
}

func (r *runReport) drift() bool {
	for _, f := range r.Files {
		if f.Action == "would_change" {
			return true
		}
	}
	return false
}

func (r *runReport) write(w io.Writer, format string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "none":
		return nil
	}
	r.Report.WriteText(w)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "sidecarize: %s\n", s)
	}
	if len(r.Files) == 0 {
		return nil
	}
	n := 0
	for _, f := range r.Files {
		switch f.Action {
		case "written":
			if f.Note != "" {
				fmt.Fprintf(w, "sidecarize: wrote %s (%s)\n", f.Path, f.Note)
			} else {
				fmt.Fprintf(w, "sidecarize: wrote %s\n", f.Path)
			}
		case "would_change":
			fmt.Fprintf(w, "sidecarize: %s would change\n", f.Path)
		default:
			n++
		}
	}
	switch {
	case n == len(r.Files) && r.check:
		fmt.Fprintf(w, "sidecarize: unchanged: %s up to date\n", files(n))
	case n == len(r.Files):
		fmt.Fprintf(w, "sidecarize: unchanged: %s already up to date, nothing written\n", files(n))
	case n > 0:
		fmt.Fprintf(w, "sidecarize: %s unchanged\n", files(n))
	}
	return nil
}

func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
