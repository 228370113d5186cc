"""Pods on nodes: the workloads in the API server (and the load balancer controller's release) as pods,
placed the way the scheduler spreads them, deterministically, and re-placeable on any node so a flow can
be checked for every placement the scheduler could choose (the worst one included).

The deterministic placement follows the default scheduler's scoring closely enough to be the expected
picture (kube-scheduler's PodTopologySpread with the workload's constraints, the system defaults
spreading a workload's replicas over hostnames and zones, then the least loaded node): each replica goes
to an allowed node with the fewest pods of its workload, then of its workload in the node's zone, then
pods in all, then by name. hostNetwork pods never share a port on one node. Addresses come from the
node's block, the lowest free first after the block's first address (the overlay's tunnel address).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from ipaddress import IPv4Address

from k8snet.app.policy_eval import Endpoint
from k8snet.ingress import lb_controller
from k8snet.shared.node_labels import NODE_NAME_LABEL

from .model import Model, Node

WORKLOADS = ("DaemonSet", "Deployment", "StatefulSet")


@dataclass(frozen=True)
class Template:
    workload: str  # "Deployment/webapp"
    namespace: str
    labels: Mapping[str, str]
    ports: tuple[tuple[str, str, int, str], ...]  # (name, protocol, port, container)
    host_network: bool = False
    replicas: int = 1  # ignored for DaemonSets
    zone_skew: int | None = None  # a zone topologySpreadConstraint with DoNotSchedule: its maxSkew
    node_selector: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.workload.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.workload.split("/", 1)[1]

    def pod_name(self, ordinal: int) -> str:
        if self.kind == "Pod":
            return self.name
        return f"{self.name}-{ordinal}" if self.kind == "StatefulSet" else f"{self.name}-{ordinal + 1}"

    @cached_property
    def identity(self) -> tuple:
        """What the pods of this template are made of (``Placement.pod``'s cache key)."""
        return self.workload, self.namespace, tuple(sorted(self.labels.items())), self.ports, self.host_network

    def allows(self, node: Node) -> bool:
        return all(node.name == v if k == NODE_NAME_LABEL else True for k, v in self.node_selector.items())


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    node: str
    ip: IPv4Address
    ports: tuple[tuple[str, str, int, str], ...]
    host_network: bool = False
    workload: str = ""

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    # Cached on the pod (Placement.pod hands out the same pod for every walk that places it): every
    # NetworkPolicy hop asks for them. Read them, never change them.
    @cached_property
    def named_ports(self) -> dict[str, int]:
        return {name: port for name, _, port, _ in self.ports if name}

    @cached_property
    def endpoint(self) -> Endpoint:
        """The pod as NetworkPolicy sees it."""
        return Endpoint(self.ref, str(self.ip), self.namespace, self.labels, ports=self.named_ports)

    def listener(self, protocol: str, port: int) -> str | None:
        """The container listening on ``protocol``/``port`` (None if no container declares it)."""
        return next((c for _, p, n, c in self.ports if p == protocol and n == port), None)


def templates(model: Model) -> list[Template]:
    """Every pod template in the API server, plus the load balancer controller the Helm release runs."""
    out = []
    for obj in model.objects:
        if obj["kind"] not in WORKLOADS:
            continue
        spec = obj["spec"]["template"]["spec"]
        ports = tuple((p.get("name", ""), p.get("protocol", "TCP").lower(), int(p["containerPort"]), c["name"])
                      for c in spec.get("containers") or [] for p in c.get("ports") or [])
        zone = next((int(t["maxSkew"]) for t in spec.get("topologySpreadConstraints") or []
                     if t.get("topologyKey") == "topology.kubernetes.io/zone"
                     and t.get("whenUnsatisfiable") == "DoNotSchedule"), None)
        out.append(Template(f"{obj['kind']}/{obj['metadata']['name']}", obj["metadata"].get("namespace", "default"),
                            dict((obj["spec"]["template"].get("metadata") or {}).get("labels") or {}), ports,
                            bool(spec.get("hostNetwork")), int(obj["spec"].get("replicas", 1)), zone,
                            dict(spec.get("nodeSelector") or {})))
    values = model.lb_controller
    if values:
        port = int(values.get("webhookBindPort", lb_controller.WEBHOOK_PORT))
        out.append(Template(f"Deployment/{lb_controller.RELEASE_NAME}", lb_controller.NAMESPACE,
                            {"app.kubernetes.io/name": lb_controller.CHART},
                            (("webhook-server", "tcp", port, "aws-load-balancer-controller"),),
                            bool(values.get("hostNetwork")), int(values.get("replicaCount", 2))))
    return sorted(out, key=lambda t: (t.kind != "DaemonSet", t.namespace, t.name))


class Placement:
    """The deterministic placement, and pods of any template re-placed on any node."""

    def __init__(self, model: Model):
        self.model = model
        self.templates = {t.workload: t for t in templates(model)}
        self._taken: dict[str, set[IPv4Address]] = {n: set() for n in model.nodes}
        # pod()'s answers: the flows place the same few pods on the same nodes for every walk, and a pod that
        # is the same object each time keeps what is cached on it (its NetworkPolicy endpoint, its ports).
        self._made: dict[tuple, Pod] = {}
        self.pods: list[Pod] = self._place()

    def _place(self) -> list[Pod]:
        nodes = list(self.model.nodes.values())
        pods: list[Pod] = []
        load = {n.name: 0 for n in nodes}
        host_ports: dict[str, set] = {n.name: set() for n in nodes}
        for t in self.templates.values():
            allowed = [n for n in nodes if t.allows(n)]
            if t.kind == "DaemonSet":
                for n in allowed:
                    pods.append(self._record(self.pod(t, n, len([p for p in pods if p.workload == t.workload]))))
                continue
            mine: dict[str, int] = {n.name: 0 for n in nodes}
            zones: dict[str, int] = {n.zone: 0 for n in allowed}
            for ordinal in range(t.replicas):
                candidates = [n for n in allowed if not (t.host_network and host_ports[n.name] & _ports(t))]
                if t.zone_skew is not None and zones:
                    low = min(zones.values())
                    candidates = [n for n in candidates if zones[n.zone] + 1 - low <= t.zone_skew]
                if not candidates:
                    break  # unschedulable: Pending, serves nothing
                n = min(candidates, key=lambda c: (mine[c.name], zones.get(c.zone, 0), load[c.name], c.name))
                pods.append(self._record(self.pod(t, n, ordinal)))
                mine[n.name] += 1
                zones[n.zone] = zones.get(n.zone, 0) + 1
                load[n.name] += 1
                if t.host_network:
                    host_ports[n.name] |= _ports(t)
        return pods

    def pod(self, t: Template, node: Node, ordinal: int = 0, avoid: Iterable[IPv4Address] = ()) -> Pod:
        """A pod of ``t`` on ``node``: hostNetwork pods have the node's address; the others the lowest of the
        node's block that the placed pods, the tunnel and ``avoid`` leave free."""
        avoid = tuple(avoid)
        key = (t.identity, node.name, node.ip, node.pod_cidr, node.tunnel_ip, ordinal, avoid)  # all it reads
        made = self._made.get(key)
        if made is not None:
            return made
        address = node.ip
        if not t.host_network:
            avoid = set(avoid) | {node.pod_cidr.network_address, node.tunnel_ip}
            taken = self._taken.get(node.name, ())
            free = (a for a in _first_hosts(node) if a not in avoid)
            first = next(free)
            # the lowest free address no placed pod holds, else the lowest free one
            address = first if first not in taken else next((a for a in free if a not in taken), first)
        made = self._made[key] = Pod(t.pod_name(ordinal), t.namespace, t.labels, node.name, address, t.ports,
                                     t.host_network, t.workload)
        return made

    def _record(self, pod: Pod) -> Pod:
        self._taken.setdefault(pod.node, set()).add(pod.ip)
        self._made.clear()  # the free addresses changed
        return pod

    def of(self, workload: str) -> list[Pod]:
        return [p for p in self.pods if p.workload == workload]

    def find(self, ref: str) -> Pod | None:
        """A placed pod by name or namespace/name."""
        return next((p for p in self.pods if ref in (p.name, p.ref)), None)

    def selecting(self, namespace: str, selector: Mapping[str, str]) -> list[Template]:
        return [t for t in self.templates.values() if t.namespace == namespace and selector
                and all(t.labels.get(k) == v for k, v in selector.items())]


def _first_hosts(node: Node, count: int = 64) -> tuple[IPv4Address, ...]:
    return _hosts(node.pod_cidr, count)


@lru_cache(maxsize=4096)
def _hosts(block, count: int) -> tuple[IPv4Address, ...]:
    """The first addresses of a block (every pod placed on a node looks at them: kept per block)."""
    return tuple(block.network_address + i for i in range(1, min(count, block.num_addresses - 1)))


def _ports(t: Template) -> set:
    return {(p, n) for _, p, n, _ in t.ports}


def probe(namespace: str, node: Node, placement: Placement, avoid: Iterable[IPv4Address] = (),
          name: str = "probe") -> Pod:
    """A pod that runs nothing but a client (``run: probe``): the stand-in for "any other pod"."""
    return placement.pod(Template(f"Pod/{name}", namespace, {"run": name}, ()), node, 0, avoid)


def by_ip(pods: Iterable[Pod]) -> dict[IPv4Address, Pod]:
    return {p.ip: p for p in pods if not p.host_network}
