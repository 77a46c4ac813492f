package transform

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Action is what a run did to a workload: the report's "action" field, the
// first word of a KRM result.
type Action string

// The actions. Every workload the engine read gets exactly one.
const (
	ActionInjected   Action = "injected"   // one or more patterns applied
	ActionUninjected Action = "uninjected" // an earlier injection removed
	ActionUnchanged  Action = "unchanged"  // injected earlier, left as it was (see Reason)
	ActionSkipped    Action = "skipped"    // nothing applied (see Reason)
)

// Reason says why a workload was skipped or left unchanged: the report's
// "reason" field, machine readable. This list is the one place reasons are
// documented; docs/contract.md shows them to users.
type Reason string

// The reasons. A skip whose patterns all declined lists their reasons,
// comma-separated, in the order the patterns ran (e.g. "no_ports").
const (
	// ReasonNotSelected: no flag, config rule or annotation enabled a
	// pattern on the workload.
	ReasonNotSelected Reason = "not_selected"
	// ReasonOptedOut: sidecarize.dev/inject is disabled/false/none/off.
	ReasonOptedOut Reason = "opted_out"
	// ReasonNotInjected: uninject met a workload that carries no injection.
	ReasonNotInjected Reason = "not_injected"
	// ReasonAlreadyInjectedNotSelected: the workload carries an injection
	// but nothing selects it this run; it is left as it was (and its
	// Service edits still hold).
	ReasonAlreadyInjectedNotSelected Reason = "already_injected_not_selected"
	// ReasonNoPodTemplate: the object's pod template field is absent
	// (e.g. a CronJob without jobTemplate.spec.template).
	ReasonNoPodTemplate Reason = "no_pod_template"
	// ReasonNoName: the workload has no metadata.name (a Job created with
	// generateName): the objects sidecarize adds are named after the
	// workload, so it cannot be injected. An error when the workload asks
	// for injection itself (a sidecarize.dev/ annotation).
	ReasonNoName Reason = "no_name"
	// ReasonInvalidName: the workload's metadata.name or metadata.namespace
	// is not what Kubernetes accepts (a DNS-1123 subdomain, a DNS-1123
	// label): it would be written into generated names and configs. An
	// error when the workload was named explicitly.
	ReasonInvalidName Reason = "invalid_name"
	// ReasonNoPorts: a pattern that proxies a port found none declared and
	// none configured (a SkipError reason).
	ReasonNoPorts Reason = "no_ports"
	// ReasonNoTCPPort: the only declared ports are UDP or SCTP, which no
	// TCP proxy can front (a SkipError reason).
	ReasonNoTCPPort Reason = "no_tcp_port"
	// ReasonTLSPort: the only TCP ports carry TLS (by name, appProtocol or
	// a well-known TLS port number); an HTTP proxy in front would break
	// them (a SkipError reason).
	ReasonTLSPort Reason = "tls_port"
	// ReasonHostNetwork: hostNetwork pods share the node's ports.
	ReasonHostNetwork Reason = "host_network_enabled"
	// ReasonSidecarExists: the pod already runs another mesh's proxy.
	ReasonSidecarExists Reason = "sidecar_already_exists"
)

// The last four are skips when the workload was selected implicitly (a rule
// or flag without names, -l, --kind, -p), so a broad run never aborts on one
// workload; for a workload named explicitly (names:, --name, its own
// sidecarize.dev/inject annotation) they are errors that name the reason.
// ReasonNoPorts is a skip in both cases.

// reasons lists every Reason, for tests and documentation.
var reasons = []Reason{
	ReasonNotSelected, ReasonOptedOut, ReasonNotInjected, ReasonAlreadyInjectedNotSelected,
	ReasonNoPodTemplate, ReasonNoName, ReasonInvalidName, ReasonNoPorts, ReasonNoTCPPort, ReasonTLSPort, ReasonHostNetwork, ReasonSidecarExists,
}

// ServiceOp says what a ServiceEdit does.
type ServiceOp string

// The Service edits. Build them with Retarget, AddPort and AddLabel.
const (
	// OpRetarget: Service ports whose targetPort is the app port move to
	// the proxy port.
	OpRetarget ServiceOp = "retarget"
	// OpPort: a Service port is added.
	OpPort ServiceOp = "port"
	// OpLabel: a label is added to a Service that has none, so a
	// ServiceMonitor can select it.
	OpLabel ServiceOp = "label"
)

// serviceOps lists every ServiceOp; (*service).apply handles each (a test
// checks both that the list holds every constant and that apply changes the
// Service for each).
var serviceOps = []ServiceOp{OpRetarget, OpPort, OpLabel}

// Retarget is the edit that moves the Services' ports whose targetPort is
// the app port (by number, or by name when the Service names it) to the
// proxy port; a Service that names its targetPort gets proxyName.
func Retarget(app corev1.ContainerPort, proxyPort int32, proxyName string) ServiceEdit {
	return ServiceEdit{Op: OpRetarget, AppPort: app.ContainerPort, AppPortName: app.Name, ProxyPort: proxyPort, ProxyPortName: proxyName}
}

// AddPort is the edit that adds a port name/port to the Service named
// service, sending to the pod port named targetPort.
func AddPort(service, name string, port int32, targetPort string) ServiceEdit {
	return ServiceEdit{Op: OpPort, Service: service, Name: name, Port: port, TargetPort: targetPort}
}

// AddLabel is the edit that labels the Service named service key=value
// when it has no such label.
func AddLabel(service, key, value string) ServiceEdit {
	return ServiceEdit{Op: OpLabel, Service: service, Key: key, Value: value}
}

// EditOp says what an Edit (a recorded change to the app's own containers
// or pod) did.
type EditOp string

// The edits, made by the Workload methods named after them.
const (
	EditMount      EditOp = "mount"      // Mount: a volumeMount added
	EditEnv        EditOp = "env"        // SetEnv: an env var's value set
	EditArg        EditOp = "arg"        // SetArg: an argument rewritten
	EditAnnotation EditOp = "annotation" // SetPodAnnotation: a pod annotation set
)

// editOps lists every EditOp; undoEdit and trustStatus handle each (a test
// makes, trusts and undoes one edit of each).
var editOps = []EditOp{EditMount, EditEnv, EditArg, EditAnnotation}

// WorkloadError is an error about one workload. Its message names the
// document, the workload, and (At) the pattern, field or step at fault:
// "deploy.yaml[1]: Deployment shop/api: monitor: port 80: …". Front ends
// tell it from their own errors by type (errors.As), never by its text.
type WorkloadError struct {
	Where    string // the document, e.g. "deploy.yaml[1]"
	Workload string // e.g. "Deployment shop/api"
	At       string // pattern, field or step; "" when Err says it
	Err      error
}

func (e *WorkloadError) Error() string {
	if e.At == "" {
		return e.Where + ": " + e.Workload + ": " + e.Err.Error()
	}
	return e.Where + ": " + e.Workload + ": " + e.At + ": " + e.Err.Error()
}

func (e *WorkloadError) Unwrap() error { return e.Err }

// fail returns a WorkloadError about w without At.
func (w *Workload) fail(format string, args ...any) error {
	return &WorkloadError{Where: w.obj.where, Workload: w.Ref(), Err: fmt.Errorf(format, args...)}
}

// failAt returns a WorkloadError about w at a pattern, field or step.
func (w *Workload) failAt(at string, err error) error {
	return &WorkloadError{Where: w.obj.where, Workload: w.Ref(), At: at, Err: err}
}
