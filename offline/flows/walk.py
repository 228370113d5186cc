"""Walk one packet hop by hop through the model and say where it is let through or dropped.

The hops, in the order a connection's first packet meets them (docs/flows.md maps each to its source):
source pod -> node-local-dns interception (NOTRACK) -> kube-proxy DNAT of a ClusterIP -> the source pod's
egress NetworkPolicy -> the node's routing per CNI mode (natOutgoing SNAT, or encapsulation to the owning
node with the tunnel address as source for host-sourced packets) -> the sending ENI (security group egress,
source/dest check, network ACL) -> the subnet's route table (longest prefix) -> the receiving ENI (network
ACL, source/dest check, security group ingress) -> the route back for the reply -> kube-proxy NodePort DNAT
and masquerade -> the destination pod's ingress NetworkPolicy -> the listening port. Security groups are
stateful (the reply needs no rule), network ACLs are not (the reply is checked too), and so is the reply's
route: a reply that the VPC routes elsewhere never arrives.

Every passing hop records which pieces of state let the packet through (``Hop.uses``): security group rule
ids, routes, NetworkPolicy rules, an interface's source/dest check. Deleting the only one a hop used must
make the walk stop at that hop (tests/test_flows_mutations.py proves it for every such piece).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from ipaddress import IPv4Address

from k8snet.app.policy_eval import Endpoint, admitted, isolating

from . import facts
from .model import Interface, Model, Node, ip
from .placement import Placement, Pod, by_ip

LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")
EPHEMERAL_PORT = 32768  # a reply's destination port: the first of Linux's ip_local_port_range
_NACL_PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1"}


@dataclass(frozen=True)
class Hop:
    at: str
    ok: bool
    note: str
    uses: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{'pass' if self.ok else 'deny'} at {self.at}: {self.note}"


_OK = attrgetter("ok")


class Blocked(Exception):
    def __init__(self, hop: Hop):
        super().__init__(str(hop))
        self.hop = hop


@dataclass
class Trace:
    hops: list[Hop] = field(default_factory=list)

    def ok(self, at: str, note: str, uses: Iterable[str] = ()) -> None:
        self.hops.append(Hop(at, True, note, frozenset(uses)))

    def deny(self, at: str, note: str):
        hop = Hop(at, False, note)
        self.hops.append(hop)
        raise Blocked(hop)

    @property
    def allowed(self) -> bool:
        return bool(self.hops) and all(map(_OK, self.hops))  # map: asked for every case, many times

    @property
    def decisive(self) -> Hop:
        """The hop that decided: the one that dropped the packet, else the last (the listener)."""
        return next((h for h in self.hops if not h.ok), self.hops[-1])


@dataclass(frozen=True)
class Packet:
    src: IPv4Address | None  # None: the sending host's kernel picks it (host-sourced, or masqueraded)
    dst: IPv4Address
    proto: str  # "tcp" | "udp" | an IP protocol number ("4": IP-in-IP)
    port: int | None
    src_pod: Pod | None = None  # the pod the source address still belongs to (until SNAT)
    host: str | None = None  # the node whose own network sent it (a host process, a hostNetwork pod)

    @property
    def what(self) -> str:
        return _proto_port(self.proto, self.port)

    def replace(self, **changes) -> Packet:
        """``dataclasses.replace``, without its look at every field on each call: a walk copies its packet at
        most hops."""
        return type(self)(**{**self.__dict__, **changes})


def _proto_port(proto: str, port: int | None) -> str:
    return f"IP protocol {proto}" if port is None else f"{proto}/{port}"


class Services:
    """The Service rules kube-proxy programs: ClusterIP and NodePort -> (Service, its port)."""

    def __init__(self, model: Model):
        self.cluster_ip: dict[tuple, tuple[dict, dict]] = {}
        self.node_port: dict[tuple, tuple[dict, dict]] = {}
        for svc in model.of_kind("Service"):
            spec = svc.get("spec") or {}
            if spec.get("type") == "ExternalName":
                continue
            for port in spec.get("ports") or []:
                proto = port.get("protocol", "TCP").lower()
                if spec.get("clusterIP") and spec["clusterIP"] != "None":
                    self.cluster_ip[(ip(spec["clusterIP"]), proto, int(port["port"]))] = (svc, port)
                if port.get("nodePort"):
                    self.node_port[(proto, int(port["nodePort"]))] = (svc, port)
        # The API server's own Service (default/kubernetes, the range's first address): its endpoints are
        # the control plane's addresses, which kube-proxy DNATs to like any other endpoint.
        self.api = (ip(model.service_cidr.network_address + 1), "tcp", facts.API_SERVER_PORT)


def svc_ref(svc: Mapping) -> str:
    return f"{svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"


def _selects(svc: Mapping, pod: Pod) -> bool:
    selector = (svc.get("spec") or {}).get("selector") or {}
    return bool(selector) and pod.namespace == svc["metadata"].get("namespace", "default") and \
        all(pod.labels.get(k) == v for k, v in selector.items())


class Walker:
    """Walks packets through one model. ``pods`` are the pods the walk knows by address (the placement's,
    plus any a probe places); ``endpoint`` picks the backend kube-proxy's DNAT chooses."""

    prelude: tuple[Hop, ...] = ()  # hops a caller walked before (e.g. a DNS name resolved): the next walk starts with them

    def __init__(self, model: Model, placement: Placement):
        self.m = model
        self.placement = placement
        self.services = Services(model)
        self.policies = model.policies()
        self.mode = model.kube_proxy_mode
        # The placement's pods by address, indexed once: every walk knows them, and lays its own over a copy.
        self._placed_by_ip = by_ip(placement.pods)
        self._replays: dict[tuple, tuple] = {}  # see _replay
        # Only a pod's own namespace's policies select it: isolating() is handed those alone (in their order).
        self._policies_in: dict[str, list[dict]] = {}
        for p in self.policies:
            self._policies_in.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        self._policy_namespaces = {p["metadata"].get("namespace") for p in self.policies}
        self._isolation: dict[tuple[int, str], tuple[Pod, list[dict]]] = {}  # see _isolating
        self._address_endpoints: dict[IPv4Address | None, Endpoint] = {}  # a peer outside the pod network
        self._backends: dict[str, list[Pod]] = {}  # a Service's selected placed pods, by namespace/name

    # --- entry points ---------------------------------------------------------------------------------

    def from_pod(self, pod: Pod, dst, proto: str, port: int | None, endpoint=None, pods: Iterable[Pod] = ()) -> Trace:
        return self._run(lambda t: self._pod_sends(t, pod, Packet(pod.ip, ip(dst), proto, port, pod), endpoint),
                         pods, pod, endpoint)

    def from_host(self, node: Node, dst, proto: str, port: int | None, endpoint=None, who: str = "",
                  pods: Iterable[Pod] = ()) -> Trace:
        def go(t: Trace):
            t.ok(f"{who or 'a host process'} on {node.name}", f"sends {_proto_port(proto, port)} to {dst}")
            self._host_sends(t, node, Packet(None, ip(dst), proto, port), endpoint)
        return self._run(go, pods, endpoint)

    def from_interface(self, iface_id: str, dst, proto: str, port: int | None, who: str, endpoint=None,
                       pods: Iterable[Pod] = ()) -> Trace:
        iface = self.m.interfaces[iface_id]

        def go(t: Trace):
            pkt = Packet(iface.ip, ip(dst), proto, port)
            t.ok(who, f"sends {pkt.what} from {iface.ip} to {dst}")
            if iface.owner == "control-plane" and pkt.dst not in self.m.vpc_cidr:
                t.deny("EKS control plane", f"it opens no connection to {dst}: it reaches {facts.CONTROL_PLANE_REACHES}")
            self._arrive(t, self._vpc(t, iface, pkt), pkt, endpoint)
        return self._run(go, pods, endpoint)

    def from_internet(self, src, dst, proto: str, port: int | None, pods: Iterable[Pod] = ()) -> Trace:
        def go(t: Trace):
            pkt = Packet(ip(src), ip(dst), proto, port)
            t.ok(f"internet client {src}", f"sends {pkt.what} to {dst}")
            igw = next((g for g in self.m.gateways.values() if g.kind == "igw"), None)
            if igw is None:
                t.deny("the VPC", "it has no internet gateway: nothing from the internet enters")
            target = next((i for i in self.m.interfaces.values() if i.public_ip == pkt.dst), None)
            if target is None:
                t.deny(f"internet gateway {igw.id}", f"{dst} is no public address of an interface in the VPC: "
                       "the gateway routes in only to public addresses it maps to an ENI")
            t.ok(f"internet gateway {igw.id}", f"{dst} is {target.id}'s public address -> {target.ip}")
            inner = pkt.replace(dst=target.ip)
            self._receive(t, target, inner, None)
            self._arrive(t, target, inner, None)
        return self._run(go, pods)

    def through_load_balancer(self, lb: str, scheme: str, iface_id: str, node: Node, port: int, listener: int,
                              client_ip: bool, endpoint=None, from_internet: bool = True,
                              pods: Iterable[Pod] = ()) -> Trace:
        """A client -> the load balancer's listener -> its node in ``iface_id``'s zone -> ``node``:``port``
        (an instance target: the Service's NodePort). ``client_ip``: the target sees the client's address
        (NLB client IP preservation), else the load balancer's own."""
        iface = self.m.interfaces[iface_id]
        subnet = self.m.subnets[iface.subnet]

        def go(t: Trace):
            # An internal load balancer's clients are in the VPC: any address there stands for them.
            client = ip(facts.INTERNET_CLIENT) if from_internet else self.m.vpc_cidr.network_address + 100
            if from_internet:
                t.ok(f"internet client {client}", f"connects to {lb} on tcp/{listener}")
                if scheme != "internet-facing":
                    t.deny(lb, f"the scheme is {scheme}: it has no address on the internet")
                table = self.m.tables[subnet.route_table]
                r = table.lookup(client)
                if r is None or r.kind != "igw":
                    t.deny(f"route table {table.name}", f"{lb}'s subnet {subnet.name} routes {client} to "
                           f"{r.target if r else 'nowhere'}, not an internet gateway: replies cannot leave")
                t.ok(f"route table {table.name}", f"{lb}'s subnet {subnet.name} reaches the internet via "
                     f"{r.target}", [table.key(r)])
            source = client if client_ip else iface.ip
            t.ok(f"{lb} in {subnet.zone}", f"forwards tcp/{listener} to {node.name} {node.ip}:{port} from {source}"
                 + (" (client IP preserved)" if client_ip else ""))
            pkt = Packet(source, node.ip, "tcp", port)
            self._arrive(t, self._vpc(t, iface, pkt, on_behalf=source != iface.ip), pkt, endpoint)
        return self._run(go, pods, endpoint)

    def _run(self, go, pods: Iterable[Pod], *more) -> Trace:
        extra = [*pods, *(p for p in more if isinstance(p, Pod))]
        self.pods_by_ip = self._placed_by_ip
        if extra:
            self.pods_by_ip = {**self._placed_by_ip, **by_ip(extra)}
        t = Trace(list(self.prelude))
        self.prelude = ()
        if not t.allowed and t.hops:
            return t
        try:
            go(t)
        except Blocked:
            pass
        return t

    # --- inside a node --------------------------------------------------------------------------------

    def _pod_sends(self, t: Trace, pod: Pod, pkt: Packet, endpoint) -> None:
        node = self.m.nodes[pod.node]
        if pod.host_network:
            t.ok(f"{pod.ref} on {node.name}", f"sends {pkt.what} to {pkt.dst} from the node's network")
            self._host_sends(t, node, pkt.replace(src=None, src_pod=None), endpoint)
            return
        t.ok(f"{pod.ref} on {node.name}", f"sends {pkt.what} from {pod.ip} to {pkt.dst}")
        local = self._node_local_dns(node, pkt)
        target: object = None
        if local is None:
            pkt, target = self._service(t, node, pkt, endpoint)
        self._policy(t, "Egress", pod, target if isinstance(target, Pod) else self._endpoint_of(pkt.dst), pkt)
        self._route(t, node, pkt, endpoint)

    def _host_sends(self, t: Trace, node: Node, pkt: Packet, endpoint) -> None:
        pkt = pkt.replace(host=node.name)
        if self._node_local_dns(node, pkt) is None:
            pkt, _ = self._service(t, node, pkt, endpoint)
        self._route(t, node, pkt, endpoint)

    def _node_local_dns(self, node: Node, pkt: Packet):
        for s in self.m.host_services:
            if s.addresses and pkt.dst in s.addresses and s.protocol == pkt.proto and s.port == pkt.port and \
                    (s.nodes is None or node.name in s.nodes):
                return s
        return None

    def _service(self, t: Trace, node: Node, pkt: Packet, endpoint) -> tuple[Packet, object]:
        at = f"kube-proxy ({self.mode}) on {node.name}"
        if (pkt.dst, pkt.proto, pkt.port) == self.services.api and self.m.control_plane:
            ifaces = [self.m.interfaces[i] for i in self.m.control_plane.interfaces]
            target = next((i for i in ifaces if i.id == endpoint), ifaces[0]) if ifaces else None
            if target is None:
                t.deny(at, "default/kubernetes has no endpoints")
            t.ok(at, f"ClusterIP default/kubernetes {pkt.dst}:{pkt.port} -> the API server at {target.ip}:{pkt.port}")
            return pkt.replace(dst=target.ip), None
        hit = self.services.cluster_ip.get((pkt.dst, pkt.proto, pkt.port))
        if hit is None:
            return pkt, None
        svc, port = hit
        pod = self._pick(t, at, node, svc, endpoint)
        target = self._target_port(t, at, svc, port, pod)
        via = "IPVS virtual server on kube-ipvs0" if self.mode == "ipvs" else "KUBE-SERVICES DNAT"
        t.ok(at, f"ClusterIP {svc_ref(svc)} {pkt.dst}:{pkt.port} -> {pod.ref} {pod.ip}:{target} ({via})")
        return pkt.replace(dst=pod.ip, port=target), pod

    def _pick(self, t: Trace, at: str, node: Node, svc: Mapping, endpoint) -> Pod:
        if isinstance(endpoint, Pod):
            if not _selects(svc, endpoint):
                t.deny(at, f"{endpoint.ref} is no endpoint of {svc_ref(svc)}")
            return endpoint
        ref = svc_ref(svc)
        candidates = self._backends.get(ref)
        if candidates is None:
            candidates = self._backends[ref] = [p for p in self.placement.pods if _selects(svc, p)]
        if not candidates:
            t.deny(at, f"{svc_ref(svc)} has no endpoints: its selector matches no pod")
        return next((p for p in candidates if p.node == node.name), candidates[0])

    def _target_port(self, t: Trace, at: str, svc: Mapping, port: Mapping, pod: Pod) -> int:
        target = port.get("targetPort", port["port"])
        if isinstance(target, str):
            if target not in pod.named_ports:
                t.deny(at, f"{svc_ref(svc)} targets port {target!r}, which {pod.ref} does not name")
            return pod.named_ports[target]
        return int(target)

    def _route(self, t: Trace, node: Node, pkt: Packet, endpoint) -> None:
        """The node's routing decision for a packet from one of its pods or from itself."""
        m, dst, at = self.m, pkt.dst, f"routing on {node.name}"
        if dst in node.pod_cidr and dst != node.tunnel_ip:
            self._to_pod(t, node, pkt.replace(src=pkt.src or node.ip), endpoint)
            return
        if dst == node.ip or self._node_local_dns(node, pkt) is not None:
            self._at_node(t, node, pkt.replace(src=pkt.src or node.ip), endpoint)
            return
        if dst in LINK_LOCAL:
            t.deny(at, f"{dst} is link-local and nothing on {node.name} holds it")
        if m.in_pod_network(dst):
            owner = m.node_owning(dst)
            if m.cni.overlay:
                if owner is None:
                    t.deny(at, f"no node owns {dst}: the CNI has no tunnel route for it")
                proto, port, device = facts.TUNNELS[(m.cni.kind, m.cni.encapsulation)]
                if pkt.src is None:
                    t.ok(at, f"source {node.tunnel_ip}: " + facts.TUNNEL_SOURCE_NOTE.format(device=device))
                inner = pkt.replace(src=pkt.src or node.tunnel_ip)
                t.ok(at, f"{dst} via {device} to {owner.name} {owner.ip}: encapsulated in {_proto_port(proto, port)}")
                outer = Packet(node.ip, owner.ip, proto, port)
                arrived = self._vpc(t, m.interfaces[node.interface], outer)
                if arrived.id != owner.interface:
                    t.deny(at, f"the outer packet reached {arrived.id}, not {owner.name}")
                self._host_listener(t, owner, outer)
                self._to_pod(t, owner, inner, endpoint)
                return
            if pkt.src is None:
                t.ok(at, f"source {node.ip}: the address of eth0, the interface the packet leaves by")
            pkt = pkt.replace(src=pkt.src or node.ip)
            t.ok(at, f"{dst} leaves by eth0 for the VPC router (no tunnel: the VPC routes pod blocks)")
        elif pkt.src is not None and pkt.src_pod is not None and m.in_pod_network(pkt.src):
            if m.cni.nat_outgoing:
                t.ok(at, f"{'natOutgoing' if m.cni.kind == 'calico' else 'ip-masq'}: source {pkt.src} -> "
                     f"{node.ip} ({dst} is outside every pod block)")
                pkt = pkt.replace(src=node.ip, src_pod=None)
        else:
            pkt = pkt.replace(src=pkt.src or node.ip)
        self._arrive(t, self._vpc(t, m.interfaces[node.interface], pkt), pkt, endpoint)

    def _at_node(self, t: Trace, node: Node, pkt: Packet, endpoint) -> None:
        if pkt.dst == node.ip and (pkt.proto, pkt.port) in self.services.node_port:
            self._node_port(t, node, pkt, endpoint)
        elif pkt.dst in node.pod_cidr and pkt.dst != node.tunnel_ip:
            self._to_pod(t, node, pkt, endpoint)
        elif pkt.dst == node.ip or self._node_local_dns(node, pkt) is not None:
            self._host_listener(t, node, pkt)
        else:
            t.deny(node.name, f"{pkt.dst} is neither {node.name}'s address nor one of its pods")

    def _node_port(self, t: Trace, node: Node, pkt: Packet, endpoint) -> None:
        svc, port = self.services.node_port[(pkt.proto, pkt.port)]
        at = f"kube-proxy ({self.mode}) on {node.name}"
        pod = self._pick(t, at, node, svc, endpoint)
        target = self._target_port(t, at, svc, port, pod)
        policy = (svc.get("spec") or {}).get("externalTrafficPolicy", "Cluster")
        if policy == "Local" and pod.node != node.name:
            t.deny(at, f"externalTrafficPolicy Local: {pod.ref} is on {pod.node}, and {node.name} drops NodePort "
                   "traffic it has no local endpoint for")
        note = f"NodePort {svc_ref(svc)} {pkt.port} -> {pod.ref} {pod.ip}:{target} on {pod.node}"
        if policy == "Local":
            t.ok(at, note + " (externalTrafficPolicy Local: the source is kept)")
            self._route(t, node, pkt.replace(dst=pod.ip, port=target), pod)
            return
        t.ok(at, note + ", masqueraded (externalTrafficPolicy Cluster)")
        # Masqueraded, but still forwarded traffic unless a process on this node sent it (the own-node rule
        # in _to_pod is about packets a node's host originates, not about its address).
        self._route(t, node, Packet(None, pod.ip, pkt.proto, target, host=node.name if pkt.host == node.name else None),
                    pod)

    def _to_pod(self, t: Trace, node: Node, pkt: Packet, endpoint) -> None:
        pod = self.pods_by_ip.get(pkt.dst)
        if pod is None or pod.node != node.name:
            t.deny(node.name, f"no pod on {node.name} holds {pkt.dst}")
        source = pkt.src_pod if pkt.src_pod is not None and pkt.src_pod.ip == pkt.src else self._endpoint_of(pkt.src)
        if pkt.host == node.name:
            self._own_node(t, pod, pkt)
        else:
            self._policy(t, "Ingress", pod, source, pkt)
        container = pod.listener(pkt.proto, pkt.port)
        if container is None:
            t.deny(pod.ref, f"no container of {pod.ref} listens on {pkt.what}")
        t.ok(pod.ref, f"{container} listens on {pkt.what} (reached from {pkt.src})")

    def _own_node(self, t: Trace, pod: Pod, pkt: Packet) -> None:
        """A pod's own node reaches it whatever its ingress policies: Kubernetes ("traffic to and from the node
        where a Pod is running is always allowed", kubernetes.io NetworkPolicy), and Calico allows every
        connection from host processes to the workloads on that host (projectcalico/calico#4469, "Protect
        hosts"); a policy engine filtering forwarded pod traffic (flannel's netpol) never sees it either."""
        if pod.host_network or pod.namespace not in self._policy_namespaces:
            return
        t.ok(f"NetworkPolicy ingress of {pod.ref}", f"{pkt.what} from its own node {pkt.src}: always allowed "
             "(Kubernetes admits a pod's own node whatever the policies)")

    def _host_listener(self, t: Trace, node: Node, pkt: Packet) -> None:
        for s in self.m.host_services:
            if s.protocol == pkt.proto and (pkt.port is None or s.port == pkt.port) and \
                    (s.nodes is None or node.name in s.nodes) and (pkt.dst == node.ip or pkt.dst in s.addresses):
                t.ok(node.name, f"{s.name} listens on {pkt.what} at {pkt.dst}")
                return
        t.deny(node.name, f"nothing on {node.name} listens on {pkt.what} at {pkt.dst}")

    def _endpoint_of(self, address: IPv4Address | None) -> Pod | Endpoint:
        pod = self.pods_by_ip.get(address)
        if pod is not None:
            return pod
        endpoint = self._address_endpoints.get(address)
        if endpoint is None:
            endpoint = self._address_endpoints[address] = Endpoint(str(address), str(address))
        return endpoint

    def _policy(self, t: Trace, direction: str, pod: Pod, other, pkt: Packet) -> None:
        if pod.host_network:
            return  # NetworkPolicy does not apply to hostNetwork pods
        # The same pods (Placement.pod hands out one object per placement) meet again in many walks.
        self._replay(t, ("policy", direction, id(pod), id(other), pkt.proto, pkt.port),
                     lambda walked: self._admit(walked, direction, pod, other, pkt), pod, other)

    def _admit(self, t: Trace, direction: str, pod: Pod, other, pkt: Packet) -> None:
        at = f"NetworkPolicy {direction.lower()} of {pod.ref}"
        peer = _as_endpoint(other)
        if not self.m.cni.enforces_policy:
            if pod.namespace in self._policy_namespaces:
                t.ok(at, f"not enforced: {self.m.cni.kind} runs no policy engine")
            return
        me = _as_endpoint(pod)
        selecting = self._isolating(pod, me, direction)
        if not selecting:
            return  # no policy isolates the pod in this direction
        target = me if direction == "Ingress" else peer
        rules = admitted(selecting, me, peer, pkt.port or 0, pkt.proto.upper(), direction, target)
        word = "from" if direction == "Ingress" else "to"
        if not rules:
            t.deny(at, f"no policy admits {pkt.what} {word} {peer.ip}" + (f" ({peer.name})" if peer.is_pod else ""))
        t.ok(at, f"{', '.join(f'{name}[{i}]' for name, i in rules)} admits {pkt.what} {word} {peer.ip}",
             [f"netpol:{name}:{direction.lower()}:{i}" for name, i in rules])

    def _isolating(self, pod: Pod, endpoint: Endpoint, direction: str) -> list[dict]:
        """The policies isolating ``pod`` in ``direction`` (policy_eval.isolating over its namespace's), kept per
        pod object: the placement hands out the same pod to every walk that places it. An entry holds its pod,
        so no other object takes that id while it is kept."""
        key = (id(pod), direction)
        kept = self._isolation.get(key)
        if kept is None:
            kept = self._isolation[key] = (pod, isolating(self._policies_in.get(pod.namespace, ()), endpoint, direction))
        return kept[1]

    # --- the VPC --------------------------------------------------------------------------------------

    def label(self, iface: Interface) -> str:
        node = self.m.node_by_interface.get(iface.id)
        if node is not None:
            return node.name
        return f"{iface.owner} {iface.ip}"

    def _vpc(self, t: Trace, src: Interface, pkt: Packet, on_behalf: bool = False) -> Interface:
        """From ``src`` across the VPC to the interface the route table delivers to (returned). ``on_behalf``:
        an AWS service sending with its client's address (NLB client IP preservation), which also carries
        the reply back itself. The crossing reads the packet's addresses, protocol and port and the model
        alone: walked once per walker (at 7 nodes, ~1,000 crossings are 140 different ones), then replayed."""
        return self._replay(t, ("vpc", src.id, pkt.src, pkt.dst, pkt.proto, pkt.port, on_behalf),
                            lambda walked: self._cross(walked, src, pkt, on_behalf))

    def _replay(self, t: Trace, key: tuple, walk, *held):
        """``walk(trace)`` once per ``key`` on this walker, then its hops (frozen) and its outcome, what it
        returned or where it was blocked, again for every walk that makes the same step. For steps that
        depend on the key and the model alone. ``held``: objects the key names by id(), kept alive with the
        entry so that no other object takes the id."""
        kept = self._replays.get(key)
        if kept is None:
            walked = Trace()
            try:
                value, blocked = walk(walked), False
            except Blocked:
                value, blocked = None, True
            kept = (tuple(walked.hops), value, blocked, held)
            self._replays[key] = kept
        hops, value, blocked, _ = kept
        t.hops.extend(hops)
        if blocked:
            raise Blocked(hops[-1])
        return value

    def _cross(self, t: Trace, src: Interface, pkt: Packet, on_behalf: bool) -> Interface:
        m, who = self.m, self.label(src)
        subnet = m.subnets[src.subnet]
        if src.groups:
            self._security_groups(t, src, pkt, egress=True)
        if pkt.src not in src.ips and not on_behalf:
            if src.source_dest_check:
                t.deny(f"source/dest check on {who}", f"{src.id} drops what it sends from {pkt.src}, "
                       "not its own address (the check is on)")
            t.ok(f"source/dest check on {who}", f"off on {src.id}: it may send from {pkt.src}", [f"sdc:{src.id}"])
        self._nacl(t, subnet.nacl, pkt, outbound=True)
        table = m.tables[subnet.route_table]
        at = f"route table {table.name}"
        r = table.lookup(pkt.dst)
        owner = m.node_owning(pkt.dst) if m.in_pod_network(pkt.dst) else None
        if r is None:
            t.deny(at, f"no route for {pkt.dst}")
        if r.kind == "local":
            target = m.interface_by_ip.get(pkt.dst)
            if target is None:
                t.deny(at, f"{pkt.dst} matches {r.destination} (local), but no interface holds it")
        elif r.kind == "eni":
            target = m.interfaces.get(r.target)
            if target is None:
                t.deny(at, f"{pkt.dst} matches {r.destination} -> {r.target}, which does not exist")
            if owner is not None and target.id != owner.interface:
                t.deny(at, f"{pkt.dst} matches {r.destination} -> {self.label(target)}, but {owner.name} holds it")
        else:
            if owner is not None:
                t.deny(at, f"no route to {owner.name}'s pod block {owner.pod_cidr}: {pkt.dst} matches "
                       f"{r.destination} -> {r.target} and leaves the VPC")
            if r.kind == "nat":
                t.ok(at, f"{pkt.dst} matches {r.destination} -> {r.target}", [table.key(r)])
                return self._nat(t, r.target, pkt)
            if r.kind == "igw" and src.public_ip is None:
                t.deny(f"internet gateway {r.target}", f"{who} has no public address: the gateway drops its packets")
            t.deny(at, f"{pkt.dst} matches {r.destination} -> {r.target}: not modelled")
        t.ok(at, f"{pkt.dst} matches {r.destination} -> {self.label(target)}", [table.key(r)])
        self._receive(t, target, pkt, None if on_behalf else src)
        return target

    def _receive(self, t: Trace, target: Interface, pkt: Packet, src: Interface | None) -> None:
        m, who = self.m, self.label(target)
        subnet = m.subnets[target.subnet]
        self._nacl(t, subnet.nacl, pkt, outbound=False)
        if pkt.dst not in target.ips:
            if target.source_dest_check:
                t.deny(f"source/dest check on {who}", f"{target.id} drops packets for {pkt.dst}, not its own "
                       "address (the check is on)")
            t.ok(f"source/dest check on {who}", f"off on {target.id}: it accepts packets for {pkt.dst}",
                 [f"sdc:{target.id}"])
        if target.groups:
            self._security_groups(t, target, pkt, egress=False)
        if src is None:
            return
        table = m.tables[subnet.route_table]
        at = f"reply route in {table.name}"
        r = table.lookup(pkt.src)
        back = (r is not None and ((r.kind == "local" and m.interface_by_ip.get(pkt.src) is src)
                                   or (r.kind == "eni" and r.target == src.id)))
        if not back:
            t.deny(at, f"the reply to {pkt.src} matches {r.destination if r else 'no route'}"
                   f"{' -> ' + (r.target if r.kind != 'local' else 'local') if r else ''}, not {self.label(src)}: "
                   "it never arrives")
        t.ok(at, f"the reply to {pkt.src} matches {r.destination} -> {self.label(src)}", [table.key(r)])

    def _nat(self, t: Trace, gateway_id: str, pkt: Packet):
        gw = self.m.gateways[gateway_id]
        t.ok(f"NAT gateway {gw.id}", f"source {pkt.src} -> {gw.public_ip or 'its Elastic IP'}")
        subnet = self.m.subnets[self.m.interfaces[gw.interface].subnet]
        table = self.m.tables[subnet.route_table]
        r = table.lookup(pkt.dst)
        if r is None or r.kind != "igw":
            t.deny(f"route table {table.name}", f"the NAT gateway's subnet routes {pkt.dst} to "
                   f"{r.target if r else 'nowhere'}, not an internet gateway")
        t.ok(f"route table {table.name}", f"{pkt.dst} matches {r.destination} -> {r.target}", [table.key(r)])
        t.ok(f"internet gateway {r.target}", f"{gw.public_ip or 'the Elastic IP'} -> {pkt.dst} on the internet")
        return None

    def _arrive(self, t: Trace, iface: Interface | None, pkt: Packet, endpoint) -> None:
        if iface is None:
            return  # out on the internet
        node = self.m.node_by_interface.get(iface.id)
        if node is not None:
            self._at_node(t, node, pkt, endpoint)
        elif iface.owner == "control-plane":
            if (pkt.proto, pkt.port) != ("tcp", facts.API_SERVER_PORT):
                t.deny("EKS control plane", f"the API server listens on tcp/{facts.API_SERVER_PORT} only")
            t.ok("EKS control plane", f"the API server (private endpoint) listens on tcp/{facts.API_SERVER_PORT} "
                 f"at {pkt.dst}")
        else:
            t.deny(self.label(iface), f"nothing listens on {pkt.what}")

    def _security_groups(self, t: Trace, iface: Interface, pkt: Packet, egress: bool) -> None:
        m = self.m
        peer = pkt.dst if egress else pkt.src
        names = ", ".join(m.groups[g].name if g in m.groups else g for g in iface.groups)
        at = f"{names} {'egress' if egress else 'ingress'} on {self.label(iface)}"
        admitted = admitting_rules(m, iface.groups, pkt, egress)
        word = "to" if egress else "from"
        if not admitted:
            t.deny(at, f"no rule admits {pkt.what} {word} {peer}")
        first = admitted[0]
        t.ok(at, f"{first.name or first.id} admits {pkt.what} {word} {peer}"
             + (f" (and {len(admitted) - 1} more)" if len(admitted) > 1 else ""), [r.key for r in admitted])

    def _nacl(self, t: Trace, nacl_id: str, pkt: Packet, outbound: bool) -> None:
        """Network ACLs are stateless: the packet's direction and the reply's (to an ephemeral port)."""
        acl = self.m.nacls.get(nacl_id)
        if acl is None:
            return
        remote, reply_remote = (pkt.dst, pkt.dst) if outbound else (pkt.src, pkt.src)
        for egress, port, address, what in ((outbound, pkt.port, remote, "the packet"),
                                            (not outbound, EPHEMERAL_PORT if pkt.port is not None else None,
                                             reply_remote, "the reply")):
            entry = next((e for e in acl.entries if e.egress == egress and address in e.cidr
                          and e.protocol in ("-1", _NACL_PROTOCOLS.get(pkt.proto, pkt.proto))
                          and (e.ports is None or port is None or e.ports[0] <= port <= e.ports[1])), None)
            if entry is None or not entry.allow:
                t.deny(f"network ACL {acl.name}", f"{'rule ' + str(entry.number) if entry else 'no rule'} "
                       f"{'denies' if entry else 'admits'} {what} ({'out' if egress else 'in'}, "
                       f"{_proto_port(pkt.proto, port)}, {address})")


def admitting_rules(model: Model, groups: Iterable[str], pkt: Packet, egress: bool) -> list:
    """The rules of ``groups`` that admit ``pkt`` in one direction: protocol (-1 is every protocol), port range
    (none for protocols without ports), and the peer (the destination on egress, the source on ingress) in the
    rule's CIDR or among the private addresses of the interfaces carrying its referenced group. Security groups
    are stateful: a reply needs no rule."""
    peer = pkt.dst if egress else pkt.src
    return [r for g in groups for r in model.rules_of.get((g, egress), ())
            if _protocol_matches(r.protocol, pkt.proto)
            and (r.from_port is None or (pkt.port is not None and r.from_port <= pkt.port <= r.to_port))
            and ((r.cidr is not None and peer in r.cidr)
                 or (r.peer_group is not None and peer in model.group_members.get(r.peer_group, ())))]


def _protocol_matches(rule: str, proto: str) -> bool:
    return rule == "-1" or rule == proto


def _as_endpoint(x) -> Endpoint:
    if isinstance(x, Endpoint):
        return x
    if isinstance(x, Pod):
        return x.endpoint
    return Endpoint(x.ref, str(x.ip), x.namespace, x.labels, ports=x.named_ports)
