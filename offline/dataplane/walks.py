"""The documents' packet walks as probes through an emulation, and who listens for them.

Every pod listens on its declared container ports and on ``ECHO_PORT``; every node on the ports host
processes serve (kubelet, Calico's Typha and API server, the load balancer controller's webhook), the control
plane's ENIs on the API port, the internet host on 443. The walks: pod to pod on the same node, another node in
the zone and another zone; pod to a ClusterIP; a load balancer's node to each node's NodePorts; the internet to
a node directly; host traffic between nodes and with the control plane; pod egress to the internet; path MTU.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .pods import Pod, services as services_of
from .plan import INTERNET_HOSTS, Plan, pod_role
from .probe import Probe, Servers

ECHO_PORT = 7777
# Host processes on every node (kubernetes.io "Ports and protocols": kubelet 10250; Calico "Network
# requirements": Typha 5473; tigera/operator apiserver.go: the Calico API server on 5443 with hostNetwork;
# the load balancer controller's webhook 9443 when it runs with hostNetwork) and the EKS API on 443.
HOST_PORTS = (10250, 5473, 5443, 9443)
API_PORT = 443


@dataclass(frozen=True)
class Walk:
    name: str  # the kind of path
    what: str  # who talks to whom
    probe: Probe


def listen(plan: Plan, servers: Servers) -> None:
    for pod in plan.pods:
        ns = plan.netns(pod_role(pod))
        for _, proto, port, _ in pod.ports:
            servers.listen(ns, pod.name, port, proto)
        for proto in ("tcp", "udp"):
            servers.listen(ns, pod.name, ECHO_PORT, proto)
    for role, ns in plan.namespaces.items():
        if role.startswith("node/"):
            for port in HOST_PORTS:
                servers.listen(ns.name, role.split("/", 1)[1], port)
            servers.listen(ns.name, role.split("/", 1)[1], ECHO_PORT, "udp")
        elif role.startswith("eni/eks-"):
            servers.listen(ns.name, "control-plane", API_PORT)
    for port in (80, 443):
        servers.listen(plan.netns("internet"), "internet", port)


def _ports(pod: Pod) -> list[tuple[str, int]]:
    return [(proto, port) for _, proto, port, _ in pod.ports] or [("tcp", ECHO_PORT)]


def _relation(state, a: str, b: str) -> str:
    if a == b:
        return "same node"
    return "other node, same zone" if state.nodes[a].zone == state.nodes[b].zone else "other zone"


def walks(state, plan: Plan) -> list[Walk]:
    pods = plan.pods
    out: list[Walk] = []

    def add(name: str, what: str, src_role: str, dst, port: int, proto: str = "tcp", **kw) -> None:
        out.append(Walk(name, what, Probe(f"{name}: {what}", plan.netns(src_role), str(dst), port, proto, **kw)))

    clients = [p for p in pods if p.labels.get("run") == "probe" and p.namespace == "default"]
    for src in clients:
        for dst in pods:
            if dst is src:
                continue
            for proto, port in _ports(dst):
                add(f"pod -> pod, {_relation(state, src.node, dst.node)}", f"{src.ref} -> {dst.ref}:{port}/{proto}",
                    pod_role(src), dst.ip, port, proto)
    for svc in services_of(state.objects, pods):
        for port in svc.ports:
            for src in clients:
                where = ", ".join(sorted({_relation(state, src.node, b.node) for b in port.backends})) or "no endpoint"
                add(f"pod -> ClusterIP -> pod ({where})", f"{src.ref} -> {svc.namespace}/{svc.name} "
                    f"{svc.cluster_ip}:{port.port}/{port.protocol}", pod_role(src), svc.cluster_ip, port.port,
                    port.protocol)
            if port.node_port is None:
                continue
            for role in sorted(r for r in plan.namespaces if r.startswith("eni/elb-")):
                for node in state.nodes.values():
                    where = "local endpoint" if any(b.node == node.name for b in port.backends) else "endpoint on another node"
                    add(f"load balancer -> NodePort ({where})", f"{role[4:]} -> {node.name}:{port.node_port} "
                        f"({svc.name})", role, node.ip, port.node_port, port.protocol)
            for node in state.nodes.values():
                add("internet -> node directly", f"internet -> {node.name}:{port.node_port}", "internet", node.ip,
                    port.node_port, port.protocol, bind=INTERNET_HOSTS[1])
    for src in pods:
        add("pod -> internet (NAT)", f"{src.ref} -> {INTERNET_HOSTS[0]}:443", pod_role(src), INTERNET_HOSTS[0], 443)
    nodes = list(state.nodes.values())
    for a in nodes:
        for b in nodes:
            if a is not b:
                for port in HOST_PORTS:
                    add(f"node -> node ({_relation(state, a.name, b.name)})", f"{a.name} -> {b.name}:{port}",
                        f"node/{a.name}", b.ip, port)
        for role in sorted(r for r in plan.namespaces if r.startswith("eni/eks-")):
            add("node -> control plane", f"{a.name} -> {role[4:]}:{API_PORT}", f"node/{a.name}",
                plan.addresses[role], API_PORT)
            for port in HOST_PORTS:
                add("control plane -> node", f"{role[4:]} -> {a.name}:{port}", role, a.ip, port)
    return out


def mtu_walks(state, plan: Plan) -> list[Walk]:
    """Path MTU between a client pod and one on each other node: a packet of the pods' MTU and one byte more,
    both with DF set."""
    clients = [p for p in plan.pods if p.labels.get("run") == "probe" and p.namespace == "default"]
    out = []
    if not clients:
        return out
    src = clients[0]
    for dst in clients[1:]:
        for size in (plan.mtu, plan.mtu + 1):
            out.append(Walk(f"path MTU ({_relation(state, src.node, dst.node)})",
                            f"{src.ref} -> {dst.ref}: {size}-byte packet, DF",
                            Probe(f"mtu {size} {src.ref} -> {dst.ref}", plan.netns(pod_role(src)), str(dst.ip),
                                  ECHO_PORT, "udp", size=size)))
    return out


def largest_passing(outcomes: Iterable) -> int | None:
    sizes = [o.probe.size for o in outcomes if o.ok and o.probe.size]
    return max(sizes) if sizes else None
