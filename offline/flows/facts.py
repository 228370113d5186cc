"""Facts about the software on the nodes that the flow walk needs and the state does not hold: who listens
where, which tunnel a CNI uses. Stated here on their own sources, not taken from the code that opens the
security group, so a wrong port in k8snet/nodes or k8snet/cni shows as a failing flow instead of agreeing
with itself.
"""

from __future__ import annotations

KUBELET_PORT = 10250  # kubelet's --port default (kubernetes.io "Ports and Protocols")
API_SERVER_PORT = 443  # the EKS API endpoint (EKS user guide, "Cluster API server endpoint")
TYPHA_PORT = 5473  # Calico docs "Network requirements": calico-node -> Typha, TCP 5473
# tigera/operator v1.40.15 pkg/render/apiserver.go: APIServerPort = 5443; on EKS the operator runs the
# Calico API server with hostNetwork ("the control plane nodes don't run Calico").
CALICO_API_SERVER_PORT = 5443
# Goldmane (Calico's flow aggregator, a Deployment in calico-system labelled k8s-app: goldmane): every calico-node,
# on the host network, reports flows to it (tigera/operator v1.40.15 pkg/render/goldmane/component.go
# GoldmaneServicePort).
GOLDMANE_PORT = 7443
GOLDMANE_NAMESPACE = "calico-system"
GOLDMANE_LABELS = {"k8s-app": "goldmane"}

# Overlay transports (outer headers between the nodes' own addresses).
# Calico VXLAN: UDP 4789 (Felix vxlanPort default, FelixConfiguration reference); IPIP: IP protocol 4.
# flannel vxlan backend: the Linux kernel's historical VXLAN port 8472 (flannel Documentation/backends.md).
TUNNELS = {
    ("calico", "vxlan"): ("udp", 4789, "vxlan.calico"),
    ("calico", "ipip"): ("4", None, "tunl0"),
    ("flannel", "vxlan"): ("udp", 8472, "flannel.1"),
}

# A NodePort/LoadBalancer Service with externalTrafficPolicy Cluster is masqueraded by kube-proxy
# (KUBE-POSTROUTING ... MASQUERADE for packets marked 0x4000, iptables and ipvs modes alike); MASQUERADE
# takes the address of the interface the packet leaves by (iptables-extensions(8)). Through an overlay
# that is the tunnel device, whose route to the other node has no ``src`` (projectcalico/calico#5533),
# and Felix's cali-POSTROUTING masquerades host-sourced packets leaving vxlan.calico / tunl0 to the
# tunnel address too (projectcalico/felix#960, #2009). flannel.1 holds the block's network address.
TUNNEL_SOURCE_NOTE = "the route through {device} has no src: the kernel picks the tunnel address (calico#5533)"

# The EKS control plane does not open connections to addresses outside the VPC CIDR ("Address is not
# allowed"; docs/control-plane-to-pods.md): webhooks it calls must listen on a node address.
CONTROL_PLANE_REACHES = "the VPC CIDR only (docs/control-plane-to-pods.md)"

INTERNET_CLIENT = "203.0.113.7"  # TEST-NET-3 (RFC 5737): an address on the internet
INTERNET_SERVER = "198.51.100.7"  # TEST-NET-2
