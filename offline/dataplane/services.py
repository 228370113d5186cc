"""The Services as kube-proxy programs them: per port, the addresses it DNATs to (selected pods, target ports
resolved against their named ports) and, for probes that must reach one endpoint, pins by client address and
port. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address


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


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def services(objects: Iterable[Mapping], pods: Iterable, pins: Mapping[tuple[str, str], Sequence] | None = None,
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
