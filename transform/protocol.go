package transform

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Protocols a port is classified as, from the conventions Kubernetes and
// Istio use.
const (
	ProtoHTTP  = "http"
	ProtoHTTP2 = "http2" // cleartext HTTP/2 (h2c)
	ProtoGRPC  = "grpc"
	ProtoTLS   = "tls" // TLS (https, or any protocol inside TLS)
	ProtoTCP   = "tcp" // opaque TCP
	ProtoUDP   = "udp" // UDP or SCTP: no TCP proxy can front it
)

// PortProtocol classifies an app port, and says from what:
//
//  1. the container port's protocol (UDP, SCTP);
//  2. the appProtocol of a Service port that targets it (http, http2, h2c,
//     kubernetes.io/h2c, grpc, https, tls, tcp, kubernetes.io/ws, …);
//  3. the container port's name, then the name of that Service port, by
//     the Istio convention <protocol>[-<suffix>] (http-web, grpc, tcp-db,
//     https);
//  4. a well-known TLS port number (443, 6443, 8443, 9443, 10250) when
//     nothing above names it;
//
// otherwise HTTP, the default every pattern has always had.
func (w *Workload) PortProtocol(p corev1.ContainerPort) (proto, source string) {
	if p.Protocol == corev1.ProtocolUDP || p.Protocol == corev1.ProtocolSCTP {
		return ProtoUDP, "protocol " + string(p.Protocol)
	}
	var svcName, svcNameSrc string
	for _, s := range w.services {
		for _, sp := range s.Ports {
			if !targets(sp, p) {
				continue
			}
			if sp.AppProtocol != nil {
				if pr := protoOf(*sp.AppProtocol); pr != "" {
					return pr, "appProtocol " + *sp.AppProtocol + " of Service " + s.Name
				}
			}
			if pr := protoOf(sp.Name); pr != "" && svcName == "" {
				svcName, svcNameSrc = pr, "name of Service "+s.Name+"'s port "+sp.Name
			}
		}
	}
	// The container's own name for its port comes before the Service's:
	// a Service port named https in front of a port named http is what the
	// tls pattern makes.
	if pr := protoOf(p.Name); pr != "" {
		return pr, "port name " + p.Name
	}
	if svcName != "" {
		return svcName, svcNameSrc
	}
	switch p.ContainerPort {
	case 443, 6443, 8443, 9443, 10250:
		if p.Name == "" {
			return ProtoTLS, "port number " + strconv.Itoa(int(p.ContainerPort))
		}
	}
	return ProtoHTTP, ""
}

// targets: does the Service port send traffic to the container port?
func targets(sp corev1.ServicePort, p corev1.ContainerPort) bool {
	if sp.Protocol == corev1.ProtocolUDP || sp.Protocol == corev1.ProtocolSCTP {
		return false
	}
	switch {
	case sp.TargetPort.Type == 1: // a name
		return sp.TargetPort.StrVal != "" && sp.TargetPort.StrVal == p.Name
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal == p.ContainerPort
	}
	return sp.Port == p.ContainerPort
}

// protoOf maps an appProtocol or a port name to a protocol ("" when it says
// nothing).
func protoOf(s string) string {
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "kubernetes.io/")
	if i := strings.IndexAny(s, "-_"); i > 0 {
		s = s[:i]
	}
	switch s {
	case "http", "web", "ws", "http1":
		return ProtoHTTP
	case "http2", "h2c", "h2":
		return ProtoHTTP2
	case "grpc":
		return ProtoGRPC
	case "https", "tls", "wss", "h2s", "webhook":
		return ProtoTLS
	case "tcp", "mongo", "mongodb", "mysql", "redis", "postgres", "postgresql", "amqp", "kafka", "zookeeper", "cassandra", "memcache", "memcached", "nats", "mqtt", "smtp", "ldap", "sql", "db", "peer", "gossip", "raft", "cql":
		return ProtoTCP
	case "dns", "dns-tcp":
		return ProtoTCP
	}
	return ""
}
