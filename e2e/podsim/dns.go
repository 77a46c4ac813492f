package podsim

import (
	"net"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsAddr is the simulated cluster DNS; the containers' /etc/resolv.conf
// points at it.
const dnsAddr = "127.0.0.53:53"

// clusterDNS answers A queries for the upstream names the pod's proxies use
// with the loopback address of their stand-ins (NXDOMAIN for other names).
type clusterDNS struct {
	pc    net.PacketConn
	mu    sync.Mutex
	hosts map[string]net.IP // lower-case FQDN without trailing dot
}

func startDNS(ns *NetNS, hosts map[string]net.IP) (*clusterDNS, error) {
	var pc net.PacketConn
	err := ns.Do(func() error {
		var err error
		pc, err = net.ListenPacket("udp", dnsAddr)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := &clusterDNS{pc: pc, hosts: hosts}
	go d.serve()
	return d, nil
}

func (d *clusterDNS) Close() { d.pc.Close() }

func (d *clusterDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
		ip, known := d.hosts[name]
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
		if !known {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if known && q.Type == dnsmessage.TypeA {
			var a [4]byte
			copy(a[:], ip.To4())
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: a})
		}
		msg, err := b.Finish()
		if err != nil {
			continue
		}
		d.pc.WriteTo(msg, addr)
	}
}
