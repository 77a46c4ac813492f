package transform

import "fmt"

// Pattern is one sidecar, adapter or ambassador pattern. Implementations live
// in patterns/<name> and are listed explicitly in patterns/registry.go.
type Pattern interface {
	// Name is the pattern's name: the value in sidecarize.dev/inject, the
	// prefix of its option annotations and of its generated objects' names.
	Name() string
	// ConfigKey is the key of the pattern's options in a config rule
	// ("monitor", "ambassadors").
	ConfigKey() string
	// Summary is one line for `sidecarize patterns`.
	Summary() string
	// NewOptions returns the pattern's options with their defaults, as a
	// pointer that JSON (config rules) and SetOption (flags, annotations)
	// write into.
	NewOptions() Options
	// Inject applies the pattern to one workload. It changes the workload only
	// through w's methods, which record every change for uninject.
	Inject(w *Workload, opts Options) error
}

// Options are a pattern's options; Validate is called after all layers of
// configuration are applied.
type Options interface {
	Validate() error
}

// SkipError is returned by a pattern's Inject, before it changes anything,
// when the pattern does not apply to the workload and nothing asked for it
// specifically (no port to proxy and none configured): the workload is
// reported with the machine-readable Reason and the other patterns still
// apply. A rule that selects every workload then does not fail on, say, a
// load generator without ports.
type SkipError struct {
	Reason  Reason // e.g. ReasonNoPorts
	Message string
}

func (e *SkipError) Error() string { return e.Message + " (" + string(e.Reason) + ")" }

// Skip returns a SkipError.
func Skip(reason Reason, format string, args ...any) error {
	return &SkipError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
