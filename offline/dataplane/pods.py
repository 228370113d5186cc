"""Which pods the emulation runs, where, and the Services that front them.

Two kinds of pods: one of each workload the API server holds (its first replica; hostNetwork workloads run on
the node's own address and need no pod), placed round robin over the nodes, and a ``probe`` pod on every node
(namespace ``default``, label ``run: probe``, no policy selects it) plus one in the app's namespace (default-deny
applies to it). One replica per workload keeps every Service to one endpoint, so which pod kube-proxy picks is
never chance: a NodePort reached on a node without that pod is the cross-node path, on its node the local one.
Addresses: the block's network address is the overlay's tunnel address and ``.1`` flannel's bridge gateway
(the bridge plugin's ``isGateway``), so pods start at ``.2`` as host-local IPAM's range does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

WORKLOADS = ("Deployment", "StatefulSet")
PROBE_LABELS = {"run": "probe"}


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    node: str
    ip: IPv4Address
    ports: tuple[tuple[str, str, int, str], ...] = ()  # (name, protocol, port, container)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def named_ports(self) -> dict[str, int]:
        return {name: port for name, _, port, _ in self.ports if name}


@dataclass(frozen=True)
class Backend:
    ip: IPv4Address
    port: int
    node: str | None  # None: not a pod on a node (the API server's endpoints)


@dataclass(frozen=True)
class ServicePort:
    protocol: str  # "tcp" | "udp"
    port: int
    node_port: int | None
    backends: tuple[Backend, ...]
    # (client address, client port, backend index): kube-proxy picks at random; a probe that must reach one
    # endpoint has its choice pinned by the address and port it sends from.
    pins: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    cluster_ip: IPv4Address
    ports: tuple[ServicePort, ...]
    external_traffic_policy: str = "Cluster"


def _first_replica_name(kind: str, name: str) -> str:
    return f"{name}-0" if kind == "StatefulSet" else f"{name}-1"


def place(nodes: Mapping, objects: Iterable[Mapping], app_namespace: str | None = None) -> list[Pod]:
    """The emulation's pods on ``nodes`` (name -> node with ``pod_cidr``), deterministically."""
    names = sorted(nodes)
    if not names:
        return []
    next_host = {n: 2 for n in names}

    def address(node: str) -> IPv4Address:
        block = nodes[node].pod_cidr
        addr = block.network_address + next_host[node]
        next_host[node] += 1
        return addr

    pods = []
    workloads = sorted((o for o in objects if o["kind"] in WORKLOADS
                        and not o["spec"]["template"]["spec"].get("hostNetwork")),
                       key=lambda o: (o["metadata"].get("namespace", "default"), o["metadata"]["name"]))
    for i, o in enumerate(workloads):
        node = names[i % len(names)]
        spec = o["spec"]["template"]["spec"]
        ports = tuple((p.get("name", ""), p.get("protocol", "TCP").lower(), int(p["containerPort"]), c["name"])
                      for c in spec.get("containers") or [] for p in c.get("ports") or [])
        pods.append(Pod(_first_replica_name(o["kind"], o["metadata"]["name"]), o["metadata"].get("namespace", "default"),
                        dict(o["spec"]["template"].get("metadata", {}).get("labels") or {}), node, address(node), ports))
    for node in names:
        pods.append(Pod(f"probe-{node}", "default", PROBE_LABELS, node, address(node)))
    if app_namespace:
        pods.append(Pod("probe", app_namespace, PROBE_LABELS, names[0], address(names[0])))
    return pods


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def services(objects: Iterable[Mapping], pods: Iterable[Pod], pins: Mapping[tuple[str, str], Sequence] | None = None,
             api: Service | None = None) -> list[Service]:
    """Services with a selector and a cluster IP, as kube-proxy sees them: each port with the addresses it
    DNATs to (the selected pods', target ports resolved against them). ``pins``: (namespace, name) -> (client
    address, client port, pod) for probes that must reach that pod. ``api``: the API server's own Service
    (default/kubernetes), its endpoints given."""
    pods = [p for p in pods if not getattr(p, "host_network", False)]
    pins = pins or {}
    out = [api] if api is not None else []
    for o in objects:
        if o["kind"] != "Service":
            continue
        spec = o["spec"]
        cluster_ip = spec.get("clusterIP")
        if not spec.get("selector") or not cluster_ip or cluster_ip == "None":
            continue
        ns, name = o["metadata"].get("namespace", "default"), o["metadata"]["name"]
        endpoints = [p for p in pods if p.namespace == ns and _selects(spec["selector"], p.labels)]
        ports = []
        for p in spec.get("ports") or []:
            target = p.get("targetPort", p["port"])
            backends: list[Backend] = []
            for e in endpoints:
                number = e.named_ports.get(target) if isinstance(target, str) else int(target)
                if number is not None:  # a pod that does not name the port is no endpoint for it
                    backends.append(Backend(e.ip, number, e.node))
            pinned = []
            for client, sport, pod in pins.get((ns, name), ()):
                index = next((i for i, b in enumerate(backends) if b.ip == pod.ip), None)
                if index is not None:
                    pinned.append((str(client), sport, index))
            ports.append(ServicePort(p.get("protocol", "TCP").lower(), int(p["port"]),
                                     int(p["nodePort"]) if p.get("nodePort") else None, tuple(backends), tuple(pinned)))
        out.append(Service(ns, name, IPv4Address(cluster_ip), tuple(ports), spec.get("externalTrafficPolicy", "Cluster")))
    return sorted(out, key=lambda s: (s.namespace, s.name))
