"""One path, explained hop by hop: ``python -m offline flows --from X --to Y``.

Sources (``--from``): ``internet``; ``nlb`` or ``alb`` (a load balancer's node, ``@<zone>`` to pick one);
``control-plane`` (``@<zone>``); a node (``node2``: a process on the node's own network); a pod by name
(``webapp-1``, ``mysql-0``), by workload (``webapp``, ``coredns``) or a probe pod (``default/probe``), each
placed by the scheduler model unless ``@<node>`` places it. Destinations (``--to``): a pod as above; a node
(``node2``, ``node2:30080`` for a NodePort or host port); a Service by name (its ClusterIP); ``api`` (the
EKS private endpoint); ``internet``; or any address (``10.1.2.3:80``). ``--port``/``--proto`` override the
port the destination implies; ``--endpoint`` picks the backend kube-proxy sends a Service's traffic to.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from . import facts
from .catalogue import _load_balancers
from .model import Model, Node
from .placement import Placement, Pod, probe
from .walk import Trace, Walker, svc_ref


class BadPath(ValueError):
    """A --from/--to that names nothing in the stack."""


@dataclass(frozen=True)
class Target:
    address: str
    port: int | None
    proto: str
    pod: Pod | None = None
    title: str = ""


def explain(model: Model, source: str, dest: str, port: int | None = None, proto: str | None = None,
            endpoint: str | None = None) -> tuple[str, Trace]:
    placement = Placement(model)
    walker = Walker(model, placement)
    end = _pod(model, placement, endpoint) if endpoint else None
    target = _target(model, placement, dest)
    asked, port = port, port if port is not None else target.port
    proto = (proto or target.proto).lower()
    extra = [p for p in (target.pod, end) if p is not None]
    kind, _, where = source.partition("@")
    title = f"{source} -> {target.title or dest}"
    if kind == "internet":
        return title, walker.from_internet(facts.INTERNET_CLIENT, target.address, proto, port, pods=extra)
    if kind in ("nlb", "alb"):
        lbs = [lb for lb in _load_balancers(model, placement) if lb.kind.lower() == kind]
        if not lbs:
            raise BadPath(f"--from {source}: the stack has no {kind.upper()}")
        lb = lbs[0]
        via = next((v for v in lb.vias if not where or v.zone == where), None)
        node = _node_of_address(model, target.address)
        if via is None or node is None:
            raise BadPath(f"--from {source} --to {dest}: a load balancer sends to a node (--to node2); "
                          f"its zones are {', '.join(v.zone for v in lb.vias)}")
        return title, walker.through_load_balancer(lb.name, lb.scheme, via.iface, node, asked or lb.node_port,
                                                   lb.listener, lb.client_ip, end,
                                                   from_internet=lb.scheme == "internet-facing", pods=extra)
    if kind == "control-plane":
        cp = model.control_plane
        ifaces = [i for i in (cp.interfaces if cp else ())
                  if not where or model.subnets[model.interfaces[i].subnet].zone == where]
        if not ifaces:
            raise BadPath(f"--from {source}: no control-plane interface" + (f" in {where}" if where else ""))
        return title, walker.from_interface(ifaces[0], target.address, proto, port, "EKS control plane", end,
                                            pods=extra)
    if kind in model.nodes:
        return title, walker.from_host(model.nodes[kind], target.address, proto, port, end, pods=extra)
    pod = _pod(model, placement, source, avoid=target.pod)
    return title, walker.from_pod(pod, target.address, proto, port, end, pods=extra)


def _node_of_address(model: Model, address: str) -> Node | None:
    return next((n for n in model.nodes.values() if str(n.ip) == address), None)


def _pod(model: Model, placement: Placement, ref: str, avoid: Pod | None = None) -> Pod:
    name, _, node_name = ref.partition("@")
    if node_name and node_name not in model.nodes:
        raise BadPath(f"{ref}: no node {node_name!r} (nodes: {', '.join(model.nodes)})")
    node = model.nodes.get(node_name)
    taken = [avoid.ip] if avoid is not None and node is not None and avoid.node == node.name else []
    if name.endswith("/probe") or name == "probe":
        ns = name.split("/")[0] if "/" in name else "default"
        return probe(ns, node or next(iter(model.nodes.values())), placement, taken)
    placed = placement.find(name)
    template = None
    if placed is not None:
        template = placement.templates.get(placed.workload)
        if node is None:
            return placed
        ordinal = next((i for i in range(16) if template.pod_name(i) == placed.name), 0)
        return placement.pod(template, node, ordinal, taken)
    short = name.split("/")[-1]
    template = next((t for t in placement.templates.values() if t.name == short
                     and ("/" not in name or t.namespace == name.split("/")[0])), None)
    if template is None:
        raise BadPath(f"{ref}: no pod or workload of that name (workloads: "
                      f"{', '.join(sorted(t.name for t in placement.templates.values()))}; or default/probe)")
    if node is None:
        pods = placement.of(template.workload)
        if pods:
            return pods[0]
        node = next(iter(model.nodes.values()))
    return placement.pod(template, node, 0, taken)


def _target(model: Model, placement: Placement, dest: str) -> Target:
    name, _, port_text = dest.partition(":") if "@" not in dest else (dest, "", "")
    port = int(port_text) if port_text else None
    if dest == "internet":
        return Target(facts.INTERNET_SERVER, 443, "tcp", title=f"internet {facts.INTERNET_SERVER}")
    if dest == "api":
        cp = model.control_plane
        if cp is None or not cp.interfaces:
            raise BadPath("--to api: the stack has no EKS control plane")
        return Target(str(model.interfaces[cp.interfaces[0]].ip), facts.API_SERVER_PORT, "tcp",
                      title="the EKS API (private endpoint)")
    if name in model.nodes:
        port = port or facts.KUBELET_PORT
        return Target(str(model.nodes[name].ip), port, "tcp", title=f"{name}:{port}")
    try:
        ipaddress.IPv4Address(name)
        return Target(name, port or 80, "tcp")
    except ValueError:
        pass
    svc = next((s for s in model.of_kind("Service") if name in (s["metadata"]["name"], svc_ref(s))
                and (s.get("spec") or {}).get("clusterIP") not in (None, "None")), None)
    if svc is not None:
        first = (svc["spec"].get("ports") or [{}])[0]
        return Target(svc["spec"]["clusterIP"], port or int(first.get("port", 80)),
                      first.get("protocol", "TCP").lower(), title=f"Service {svc_ref(svc)}")
    pod = _pod(model, placement, dest)
    first = next(iter(pod.ports), ("", "tcp", 80, ""))
    return Target(str(pod.ip), port or first[2], first[1], pod, title=f"{pod.ref} on {pod.node}")


def render(title: str, trace: Trace) -> str:
    lines = [f"{title}:"]
    for i, hop in enumerate(trace.hops, 1):
        lines.append(f"  {i:>2}. {'pass' if hop.ok else 'DENY'}  {hop.at}: {hop.note}")
    verdict = "allow" if trace.allowed else "deny"
    lines.append(f"verdict: {verdict} ({trace.decisive.at}: {trace.decisive.note})")
    return "\n".join(lines)

