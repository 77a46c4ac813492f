package transform

import (
	"fmt"
	"io"
	"strings"
)

// Report is what a run did, per workload (docs/contract.md#report).
type Report struct {
	Workloads []WorkloadReport `json:"workloads"`
	Warnings  []Message        `json:"warnings,omitempty"`
	// NotRead counts workloads skipped without parsing: nothing could select
	// them (no rules, no flags, no sidecarize.dev annotation).
	NotRead int `json:"notRead,omitempty"`
	// Reencoded lists changed documents written whole by the YAML emitter
	// because their edits could not be spliced into their own bytes
	// (splice.go), with the reason.
	Reencoded []Message `json:"reencoded,omitempty"`
}

// NoteReencoded adds the documents that were written by the emitter; call
// it after Join.
func (r *Report) NoteReencoded(docs []*Doc) {
	for _, d := range docs {
		if d.Reencoded != "" {
			r.Reencoded = append(r.Reencoded, Message{Where: d.Where(), Object: d.Kind(), Message: d.Reencoded})
		}
	}
}

// WorkloadReport is one workload's line of the report.
type WorkloadReport struct {
	Source string `json:"source"`
	Index  int    `json:"index"`
	// Where names the document as errors and warnings do: app.yaml[2],
	// or app.yaml[2].items[0] for an item of a List.
	Where     string   `json:"where"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name"`
	Action    Action   `json:"action"`
	Patterns  []string `json:"patterns,omitempty"`
	// Reason says why a workload was skipped or left unchanged (the
	// Reason constants).
	Reason   Reason   `json:"reason,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Field is the pod template the patterns changed (or would have),
	// e.g. spec.template; for a Pod, the Pod itself ("").
	Field string `json:"field,omitempty"`
}

// Message is a warning about an object.
type Message struct {
	Where   string `json:"where"`
	Object  string `json:"object"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Warn adds a warning.
func (r *Report) Warn(where, object, field, msg string) {
	r.Warnings = append(r.Warnings, Message{Where: where, Object: object, Field: field, Message: msg})
}

// WriteText writes the human summary (stderr by default).
func (r *Report) WriteText(w io.Writer) {
	for _, wr := range r.Workloads {
		// Named as errors and warnings name objects: by document first
		// (one name may be in several files of a directory).
		ref := fmt.Sprintf("%s: %s %s", wr.Where, wr.Kind, qualified(wr.Namespace, wr.Name))
		switch wr.Action {
		case ActionInjected:
			fmt.Fprintf(w, "sidecarize: %s: injected %s\n", ref, strings.Join(wr.Patterns, ", "))
		case ActionSkipped:
			fmt.Fprintf(w, "sidecarize: %s: skipped (%s)\n", ref, wr.Reason)
		default:
			if wr.Reason != "" {
				fmt.Fprintf(w, "sidecarize: %s: %s (%s)\n", ref, wr.Action, wr.Reason)
			} else {
				fmt.Fprintf(w, "sidecarize: %s: %s\n", ref, wr.Action)
			}
		}
		for _, m := range wr.Warnings {
			fmt.Fprintf(w, "sidecarize: %s: warning: %s\n", ref, m)
		}
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "sidecarize: %s: %s: warning: %s\n", m.Where, m.Object, m.Message)
	}
	for _, m := range r.Reencoded {
		fmt.Fprintf(w, "sidecarize: %s: %s: written whole by the YAML emitter (%s)\n", m.Where, m.Object, m.Message)
	}
	if r.NotRead > 0 {
		fmt.Fprintf(w, "sidecarize: %d workload(s) not selected (no rules, flags or sidecarize.dev annotations)\n", r.NotRead)
	}
}
