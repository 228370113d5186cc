"""Kubernetes NetworkPolicy semantics as a pure function: may ``src`` open a connection to ``dst`` on a port?

Rules (kubernetes.io/docs/concepts/services-networking/network-policies/): a pod is isolated for ingress
(egress) when any policy in its namespace selects it and lists Ingress (Egress) in policyTypes; an isolated
pod admits only what some selecting policy's rules allow; a connection needs both the source's egress and
the destination's ingress. Peers: podSelector (same namespace), namespaceSelector (+ podSelector), ipBlock
(matched against the packet's source address: a pod's own IP, or a node's after SNAT). Ports may name a
container port. Traffic between a pod and its own node is always allowed (kubelet probes): the endpoints here
carry no node, so that rule lives where nodes are known (offline/flows/walk.py, ``Walker._own_node``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the pod network (namespace None)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def _selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values") or []
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


@lru_cache(maxsize=4096)
def _address(text: str):
    return ipaddress.ip_address(text)


@lru_cache(maxsize=1024)
def _network(text: str):
    return ipaddress.ip_network(text)


def _peer_matches(peer: Mapping, policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        ip = _address(other.ip)  # parsed once per address: a flow walk asks for the same few again and again
        return ip in _network(block["cidr"]) and not any(ip in _network(e) for e in block.get("except") or [])
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], {**other.namespace_labels,
                                                   "kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != policy_ns:
        return False
    return _selects(peer.get("podSelector"), other.labels)


def _port_matches(rule_ports, port: int, protocol: str, target: Endpoint | None) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            want = (target.ports if target else {}).get(want)  # a named port of the destination pod
            if want is None:
                continue
        if want <= port <= p.get("endPort", want):
            return True
    return False


def admitting(policies: Iterable[Mapping], pod: Endpoint, other: Endpoint, port: int, protocol: str,
              direction: str, target: Endpoint) -> list[tuple[str, int]] | None:
    """The rules of the policies isolating ``pod`` in ``direction`` ("Ingress"/"Egress") that admit
    ``other`` on the port, as (``<namespace>/<policy>``, rule index); None when no policy isolates it."""
    selecting = isolating(policies, pod, direction)
    if not selecting:
        return None  # not isolated in this direction
    return admitted(selecting, pod, other, port, protocol, direction, target)


def isolating(policies: Iterable[Mapping], pod: Endpoint, direction: str) -> list[Mapping]:
    """The policies that select ``pod`` and list ``direction`` in their policyTypes."""
    selecting = []
    for pol in policies:
        meta, spec = pol["metadata"], pol["spec"]
        if meta.get("namespace", "default") != pod.namespace or not _selects(spec.get("podSelector") or {}, pod.labels):
            continue
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
        if direction in types:
            selecting.append(pol)
    return selecting


def admitted(selecting: Iterable[Mapping], pod: Endpoint, other: Endpoint, port: int, protocol: str,
             direction: str, target: Endpoint) -> list[tuple[str, int]]:
    """``admitting`` over the policies ``isolating`` found (for a caller that keeps them per pod)."""
    rules_key, peers_key = direction.lower(), "from" if direction == "Ingress" else "to"
    found = []
    for pol in selecting:
        for index, rule in enumerate(pol["spec"].get(rules_key) or []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(p, pod.namespace, other) for p in peers)) and \
                    _port_matches(rule.get("ports"), port, protocol, target):
                found.append((f"{pod.namespace}/{pol['metadata'].get('name', '')}", index))
    return found


def _direction_allows(policies: Iterable[Mapping], pod: Endpoint, other: Endpoint, port: int, protocol: str,
                      direction: str, target: Endpoint) -> bool:
    rules = admitting(policies, pod, other, port, protocol, direction, target)
    return rules is None or bool(rules)


def allowed(policies: Iterable[Mapping], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """Whether NetworkPolicies let ``src`` connect to ``dst`` on ``port``/``protocol``."""
    policies = list(policies)
    egress = not src.is_pod or _direction_allows(policies, src, dst, port, protocol, "Egress", dst)
    ingress = not dst.is_pod or _direction_allows(policies, dst, src, port, protocol, "Ingress", dst)
    return egress and ingress
