"""The flows the design promises, and the denials, as found in the state: the documents' packet walks
(REFERENCE.md: seeds 000-004) applied to whatever Services, workloads, load balancers and CNI the run holds.

A flow places its pods on node *roles* (the source's node, the destination's node); verify.py walks it for
every assignment of roles to nodes the scheduler could choose, grouped into node classes, so the worst
placement (no replica on the node a load balancer picked, say) is always among them. Denials are promised
only where NetworkPolicies exist in the app's namespace (config ``networkPolicy``), except what the VPC
itself forbids (the internet reaching a pod or a node directly).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from k8snet.app import manifests as app
from k8snet.dns import node_local_dns_manifests as nld

from ..checks import alb as alb_checks
from . import facts
from .model import Model, Node, ip
from .placement import Placement, Pod, Template, probe
from .walk import Hop, Trace, Walker

WalkFn = Callable[[Walker, tuple[Node, ...], object], Trace]


@dataclass(frozen=True)
class Flow:
    name: str  # the table's row: what kind of path
    what: str  # who talks to whom, on which port
    promise: bool  # True: must be allowed; False: must be denied
    walk: WalkFn
    roles: int = 0  # nodes it places (0, 1 or 2)
    relation: str = "any"  # with two roles: "same", "other" or "any"
    variants: tuple = (None,)  # e.g. a load balancer's nodes, the control plane's ENIs
    applies: Callable[[tuple[Node, ...], object], bool] = field(default=lambda nodes, variant: True)
    role_names: tuple[str, ...] = ()

    def label(self, nodes: tuple[Node, ...], variant) -> str:
        parts = [f"{r} on {n.name}" for r, n in zip(self.role_names, nodes)]
        if variant is not None:
            parts.append(str(getattr(variant, "label", variant)))
        return ", ".join(parts)


@dataclass(frozen=True)
class Via:
    """A variant that is an interface (a load balancer's node, a control-plane ENI)."""

    iface: str
    zone: str
    label: str


def _template(placement: Placement, namespace: str | None, labels: Mapping[str, str], kind: str = "") -> Template | None:
    return next((t for t in placement.templates.values()
                 if (namespace is None or t.namespace == namespace) and (not kind or t.kind == kind)
                 and all(t.labels.get(k) == v for k, v in labels.items())), None)


def flows(model: Model, placement: Placement) -> list[Flow]:
    webapp = _template(placement, None, app.WEBAPP_LABELS, "Deployment")
    mysql = _template(placement, None, app.MYSQL_LABELS, "StatefulSet")
    coredns = _template(placement, "kube-system", app.KUBE_DNS["labels"])
    ns = webapp.namespace if webapp else None
    out: list[Flow] = []

    def pods(*pairs: tuple[Template, Node]) -> list[Pod]:
        placed: list[Pod] = []
        for t, n in pairs:
            placed.append(placement.pod(t, n, 0, [p.ip for p in placed if p.node == n.name]))
        return placed

    def client(namespace: str, node: Node, others=()) -> Pod:
        return probe(namespace, node, placement, [p.ip for p in others if p.node == node.name])

    # --- pod to pod, by the headless name (documents 000, 002) --------------------------------------------
    if webapp and mysql:
        headless = _headless(model, mysql)
        for relation in ("same", "other"):
            def walk(w: Walker, nodes, variant, headless=headless):
                src, dst = pods((webapp, nodes[0]), (mysql, nodes[1]))
                w.prelude = (_resolve(headless, dst, ns),)
                return w.from_pod(src, dst.ip, "tcp", 3306, pods=[dst])
            out.append(Flow(f"pod -> pod, {relation} node", f"webapp -> {mysql.pod_name(0)}.{headless or '?'}"
                            f".{ns}.svc:3306/tcp (headless name)", True, walk, 2, relation,
                            role_names=("webapp", mysql.pod_name(0))))

    # --- DNS (documents 000, 002): through kube-proxy to CoreDNS, or answered by node-local-dns -----------
    dns_svc = _dns_service(model)
    if coredns and dns_svc:
        svc_ip = ip(dns_svc["spec"]["clusterIP"])

        def walk(w, nodes, variant):
            src = client("default", nodes[0])
            dst = placement.pod(coredns, nodes[1], 0, [src.ip] if nodes[0] == nodes[1] else [])
            return w.from_pod(src, svc_ip, "udp", 53, endpoint=dst, pods=[src])
        out.append(Flow("pod -> ClusterIP -> pod, other node", f"pod in default -> {dns_svc['metadata']['name']} "
                        f"{svc_ip}:53/udp -> coredns", True, walk, 2, "other", role_names=("client", "coredns")))
    if coredns:
        sources = [(t, t.name) for t in (webapp, mysql) if t]
        for t, name in sources:
            for proto in (("udp", "tcp") if t is webapp else ("udp",)):
                def walk(w, nodes, variant, t=t, proto=proto):
                    src = placement.pod(t, nodes[0], 0)
                    dst = placement.pod(coredns, nodes[1], 0, [src.ip] if nodes[0] == nodes[1] else [])
                    return w.from_pod(src, nodes[0].cluster_dns[0], proto, 53, endpoint=dst, pods=[dst])
                out.append(Flow(f"DNS from {name} ({proto})", f"{name} -> kubelet's clusterDNS:53/{proto} -> CoreDNS "
                                "(or node-local-dns)", True, walk, 2, "any", role_names=(name, "coredns")))
        upstream = _service(model, "kube-system", nld.UPSTREAM_SERVICE)
        if upstream is not None and _node_local_dns(model):
            up_ip = ip(upstream["spec"]["clusterIP"])

            def walk(w, nodes, variant):
                dst = placement.pod(coredns, nodes[1], 0)
                return w.from_host(nodes[0], up_ip, "tcp", 53, endpoint=dst, who="node-local-dns (hostNetwork)")
            out.append(Flow("DNS cache miss", f"node-local-dns -> {nld.UPSTREAM_SERVICE} {up_ip}:53/tcp -> CoreDNS",
                            True, walk, 2, "any", role_names=("node-local-dns", "coredns")))

    # --- load balancers to NodePorts (documents 003, 004) ---------------------------------------------------
    balancers = _load_balancers(model, placement)
    for lb in balancers:
        target = lb.backend
        # Flow names are keys (tests, mutations): one load balancer of a kind is named by its kind.
        kind = lb.kind if sum(b.kind == lb.kind for b in balancers) == 1 else f"{lb.name}:{lb.listener}"
        relations = ("same", "other") if lb.cluster_policy else ("same",)
        for relation in relations:
            def walk(w, nodes, via, lb=lb, target=target):
                dst = placement.pod(target, nodes[1], 0)
                return w.through_load_balancer(lb.name, lb.scheme, via.iface, nodes[0], lb.node_port, lb.listener,
                                               lb.client_ip, endpoint=dst, from_internet=lb.scheme == "internet-facing")
            where = "the same node" if relation == "same" else "another node"
            out.append(Flow(f"{kind} -> NodePort -> pod on {where}",
                            f"{'internet' if lb.scheme == 'internet-facing' else 'VPC client'} -> {lb.name}:"
                            f"{lb.listener} -> NodePort {lb.node_port} -> {target.name}:{lb.target_port}", True, walk,
                            2, relation, lb.vias, lb.reaches, ("NodePort", target.name)))
        if lb.cluster_policy:
            def walk(w, nodes, via, lb=lb, target=target):
                dst = placement.pod(target, nodes[1], 0)
                return w.through_load_balancer(lb.name, lb.scheme, via.iface, nodes[0], lb.node_port, lb.listener,
                                               False, endpoint=dst, from_internet=False)
            out.append(Flow(f"{kind} health check, no local replica",
                            f"{lb.name} health check -> NodePort {lb.node_port} on a node without {target.name}",
                            True, walk, 2, "other", lb.vias, lb.reaches, ("node", target.name)))
    out += _node_ports(model, placement, {("tcp", lb.node_port) for lb in balancers})

    # --- egress (document 004: SNAT to the node, the NAT gateway) ------------------------------------------
    def walk(w, nodes, variant):
        src = client("default", nodes[0])
        return w.from_pod(src, facts.INTERNET_SERVER, "tcp", 443, pods=[src])
    out.append(Flow("pod -> internet via NAT", f"pod in default -> {facts.INTERNET_SERVER}:443/tcp", True, walk, 1,
                    role_names=("client",)))

    # --- kubelet's probes: a pod's own node reaches it whatever its policies --------------------------------
    for t, port, kinds in _probes(model, placement):
        def walk(w, nodes, variant, t=t, port=port):
            dst = placement.pod(t, nodes[0], 0)
            return w.from_host(nodes[0], dst.ip, "tcp", port, who="kubelet", pods=[dst])
        out.append(Flow(f"kubelet -> {t.name} probes (tcp/{port})", f"kubelet -> {t.name} pod:{port} on its node "
                        f"({', '.join(kinds)})", True, walk, 1, role_names=(t.name,)))

    # --- the control plane (EKS) ---------------------------------------------------------------------------
    cp = model.control_plane
    if cp is not None:
        vias = tuple(Via(i, model.subnets[model.interfaces[i].subnet].zone,
                         f"control plane in {model.subnets[model.interfaces[i].subnet].zone}") for i in cp.interfaces)
        if cp.private_endpoint:
            def walk(w, nodes, via):
                return w.from_host(nodes[0], model.interfaces[via.iface].ip, "tcp", facts.API_SERVER_PORT,
                                   who="kubelet")
            out.append(Flow("node -> EKS API (private endpoint)", f"kubelet -> API server:{facts.API_SERVER_PORT}",
                            True, walk, 1, variants=vias, role_names=("kubelet",)))
            if coredns:
                def walk(w, nodes, via):
                    src = placement.pod(coredns, nodes[0], 0)
                    return w.from_pod(src, model.service_cidr.network_address + 1, "tcp", facts.API_SERVER_PORT,
                                      endpoint=via.iface)
                out.append(Flow("pod -> kubernetes Service -> API", "coredns -> default/kubernetes "
                                f"{model.service_cidr.network_address + 1}:443 -> API server", True, walk, 1,
                                variants=vias, role_names=("coredns",)))
        for name, proto, port, who in _control_plane_targets(model):
            def walk(w, nodes, via, proto=proto, port=port, who=who):
                dst = nodes[0].ip if who is None else placement.pod(who, nodes[0], 0).ip
                return w.from_interface(via.iface, dst, proto, port, via.label)
            out.append(Flow(f"control plane -> {name}", f"{name} on {proto}/{port}", True, walk, 1, variants=vias,
                            role_names=("node",)))

    # --- node to node: the CNI's own traffic ----------------------------------------------------------------
    if model.cni.goldmane:
        goldmane = Template("Deployment/goldmane", facts.GOLDMANE_NAMESPACE, facts.GOLDMANE_LABELS,
                            (("", "tcp", facts.GOLDMANE_PORT, "goldmane"),))

        def walk(w, nodes, variant):
            dst = placement.pod(goldmane, nodes[1], 0)
            return w.from_host(nodes[0], dst.ip, "tcp", facts.GOLDMANE_PORT, who="calico-node", pods=[dst])
        out.append(Flow("calico-node -> Goldmane", f"calico-node (hostNetwork) -> goldmane pod:{facts.GOLDMANE_PORT}/tcp "
                        "(flow logs)", True, walk, 2, "any", role_names=("calico-node", "goldmane")))
    if model.cni.kind == "calico":
        def walk(w, nodes, variant):
            return w.from_host(nodes[0], nodes[1].ip, "tcp", facts.TYPHA_PORT, who="calico-node")
        out.append(Flow("calico-node -> Typha", f"node -> node tcp/{facts.TYPHA_PORT}", True, walk, 2, "other",
                        role_names=("calico-node", "typha")))
    tunnel = facts.TUNNELS.get((model.cni.kind, model.cni.encapsulation))
    if tunnel:
        def walk(w, nodes, variant):
            return w.from_host(nodes[0], nodes[1].ip, tunnel[0], tunnel[1], who=f"{tunnel[2]}")
        what = f"IP protocol {tunnel[0]}" if tunnel[1] is None else f"{tunnel[0]}/{tunnel[1]}"
        out.append(Flow(f"overlay {model.cni.encapsulation}", f"node -> node {what} ({tunnel[2]})", True, walk, 2,
                        "other", role_names=("sender", "receiver")))

    out += _denials(model, placement, webapp, mysql, pods, client)
    return out


def _denials(model: Model, placement: Placement, webapp, mysql, pods, client) -> list[Flow]:
    out: list[Flow] = []
    node_port = next((p["nodePort"] for s in model.of_kind("Service") for p in (s.get("spec") or {}).get("ports") or []
                      if p.get("nodePort")), None)
    if webapp:
        def walk(w, nodes, variant):
            dst = placement.pod(webapp, nodes[0], 0)
            return w.from_internet(facts.INTERNET_CLIENT, dst.ip, "tcp", 80, pods=[dst])
        out.append(Flow("internet -> pod directly", f"internet -> {webapp.name} pod:80", False, walk, 1,
                        role_names=(webapp.name,)))
    if node_port:
        def walk(w, nodes, variant):
            return w.from_internet(facts.INTERNET_CLIENT, nodes[0].ip, "tcp", node_port)
        out.append(Flow("internet -> node directly", f"internet -> node:{node_port}", False, walk, 1,
                        role_names=("node",)))
    ns = webapp.namespace if webapp else None
    if not (webapp and mysql) or not any(p["metadata"].get("namespace") == ns for p in model.policies()):
        return out

    def pair(name, what, make_src, dst_t, proto, port):
        def walk(w, nodes, variant):
            dst = placement.pod(dst_t, nodes[1], 0)
            src = make_src(nodes[0], [dst])
            return w.from_pod(src, dst.ip, proto, port, pods=[src, dst])
        return Flow(name, what, False, walk, 2, "any", role_names=("client", dst_t.name))

    def placed(t):
        return lambda node, others: placement.pod(t, node, 0, [p.ip for p in others if p.node == node.name])

    out += [
        pair(f"other pod in {ns} -> MySQL", f"{ns}/probe -> {mysql.pod_name(0)}:3306", lambda n, o: client(ns, n, o),
             mysql, "tcp", 3306),
        pair("pod in default -> MySQL", f"default/probe -> {mysql.pod_name(0)}:3306",
             lambda n, o: client("default", n, o), mysql, "tcp", 3306),
        pair("MySQL -> webapp", f"{mysql.pod_name(0)} -> {webapp.name}:80", placed(mysql), webapp, "tcp", 80),
        pair("webapp -> MySQL X protocol", f"{webapp.name} -> {mysql.pod_name(0)}:33060", placed(webapp), mysql,
             "tcp", 33060),
    ]

    if not model.cni.overlay:
        # Through an overlay, traffic a node forwards to a pod elsewhere comes from its tunnel address, inside
        # the pod CIDR, so the webapp's policy admits the pod CIDR on its web port (docs/data-path.md): only
        # unencapsulated can no pod reach it.
        out.append(pair("pod in default -> webapp pod", f"default/probe -> {webapp.name} pod:80",
                        lambda n, o: client("default", n, o), webapp, "tcp", 80))

    def host_to_app(w, nodes, variant):
        dst = placement.pod(webapp, nodes[1], 0)
        return w.from_host(nodes[0], dst.ip, "tcp", 8080, who="a node or load balancer (VPC)", pods=[dst])
    # Other nodes only: a pod's own node reaches it whatever the policies (walk.Walker._own_node).
    out.append(Flow("VPC -> webapp app port", f"node -> {webapp.name}:8080 on another node (nginx's backend only)",
                    False, host_to_app, 2, "other", role_names=("node", webapp.name)))
    for t in (webapp, mysql):
        def walk(w, nodes, variant, t=t):
            return w.from_pod(placement.pod(t, nodes[0], 0), facts.INTERNET_SERVER, "tcp", 443)
        out.append(Flow(f"{t.name} -> internet", f"{t.name} -> {facts.INTERNET_SERVER}:443 (egress beyond DNS"
                        f"{'/MySQL' if t is webapp else ''})", False, walk, 1, role_names=(t.name,)))
    if _node_local_dns(model):
        def walk(w, nodes, variant):
            return w.from_pod(placement.pod(webapp, nodes[0], 0), nld.LOCAL_IP, "tcp", nld.HEALTH_PORT)
        out.append(Flow("webapp -> node-local-dns health", f"{webapp.name} -> {nld.LOCAL_IP}:{nld.HEALTH_PORT} "
                        "(only DNS on the node-local addresses)", False, walk, 1, role_names=(webapp.name,)))
    return out


# --- what the flows are made of ------------------------------------------------------------------------

def _service(model: Model, namespace: str, name: str) -> dict | None:
    return next((s for s in model.of_kind("Service") if s["metadata"]["name"] == name
                 and s["metadata"].get("namespace", "default") == namespace), None)


def _node_local_dns(model: Model) -> bool:
    return any(s.name == nld.NAME for s in model.host_services)


def _dns_service(model: Model) -> dict | None:
    """The Service pods reach CoreDNS through kube-proxy: kube-dns, unless node-local-dns holds its
    ClusterIP (iptables mode), then kube-dns-upstream."""
    held = {a for s in model.host_services for a in s.addresses}
    for name in ("kube-dns", nld.UPSTREAM_SERVICE):
        svc = _service(model, "kube-system", name)
        if svc is not None and ip(svc["spec"]["clusterIP"]) not in held:
            return svc
    return None


def _headless(model: Model, sts: Template) -> str | None:
    obj = next((o for o in model.of_kind("StatefulSet") if f"StatefulSet/{o['metadata']['name']}" == sts.workload
                and o["metadata"].get("namespace", "default") == sts.namespace), None)
    name = (obj or {}).get("spec", {}).get("serviceName")
    svc = _service(model, sts.namespace, name) if name else None
    selector = (svc or {}).get("spec", {}).get("selector") or {}
    if svc is None or svc["spec"].get("clusterIP") != "None" or \
            not selector or not all(sts.labels.get(k) == v for k, v in selector.items()):
        return None
    return name


def _resolve(headless: str | None, pod: Pod, ns: str) -> Hop:
    name = f"{pod.name}.{headless}.{ns}.svc.cluster.local"
    if headless is None:
        return Hop("CoreDNS", False, f"{pod.name} has no headless Service that selects it and names it as the "
                   "StatefulSet's serviceName: no per-pod DNS name")
    return Hop("CoreDNS", True, f"{name} -> {pod.ip} (headless Service: the pod's own address, no ClusterIP)")


@dataclass(frozen=True)
class LoadBalancer:
    kind: str  # "NLB" | "ALB"
    name: str
    scheme: str
    listener: int
    node_port: int
    target_port: object
    backend: Template
    cluster_policy: bool  # externalTrafficPolicy Cluster
    client_ip: bool
    cross_zone: bool
    vias: tuple[Via, ...]

    def reaches(self, nodes: tuple[Node, ...], via: Via) -> bool:
        """A load balancer node sends only to targets in its own zone unless cross-zone is on."""
        return self.cross_zone or nodes[0].zone == via.zone


def _attribute(annotations: Mapping, key: str, name: str) -> str | None:
    for pair in (annotations.get(key) or "").split(","):
        k, _, v = pair.partition("=")
        if k.strip() == name:
            return v.strip()
    return None


def _vias(model: Model, scheme: str, kind: str) -> tuple[Via, ...]:
    out = []
    for sid in model.load_balancer_subnets.get(scheme, ()):
        iface = f"elb-{sid}"
        if iface in model.interfaces:
            zone = model.subnets[sid].zone
            out.append(Via(iface, zone, f"{kind} node in {zone}"))
    return tuple(out)


def _load_balancers(model: Model, placement: Placement) -> list[LoadBalancer]:
    out = []
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    for svc in model.of_kind("Service"):
        spec = svc.get("spec") or {}
        if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass") != app.NLB_CLASS:
            continue
        ann = svc["metadata"].get("annotations") or {}
        if ann.get(prefix + "nlb-target-type", "instance") != "instance":
            continue
        backend = next(iter(placement.selecting(svc["metadata"].get("namespace", "default"), spec.get("selector"))),
                       None)
        scheme = ann.get(prefix + "scheme", "internal")
        # NLB target groups with instance targets preserve the client's address by default (ELB guide,
        # "Client IP preservation"); cross-zone load balancing is off by default for NLBs.
        preserve = _attribute(ann, prefix + "target-group-attributes", "preserve_client_ip.enabled")
        cross = _attribute(ann, prefix + "attributes", "load_balancing.cross_zone.enabled") or \
            _attribute(ann, prefix + "target-group-attributes", "load_balancing.cross_zone.enabled")
        for port in spec.get("ports") or []:
            if backend is None or not port.get("nodePort"):
                continue
            out.append(LoadBalancer("NLB", f"NLB {svc['metadata']['namespace']}/{svc['metadata']['name']}", scheme,
                                    int(port["port"]), int(port["nodePort"]), port.get("targetPort", port["port"]),
                                    backend, spec.get("externalTrafficPolicy", "Cluster") == "Cluster",
                                    (preserve or "true") == "true", (cross or "false") == "true",
                                    _vias(model, scheme, "NLB")))
    services = {(s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s for s in model.of_kind("Service")}
    for ing in alb_checks.alb_ingresses(model.objects):
        ns = ing["metadata"].get("namespace", "default")
        ann = ing["metadata"].get("annotations") or {}
        if ann.get("alb.ingress.kubernetes.io/target-type", "instance") != "instance":
            continue
        scheme = ann.get("alb.ingress.kubernetes.io/scheme", "internal")
        listener = next(iter(alb_checks.listeners(ing)), ("HTTP", 80))[1]
        for _, _, ref in alb_checks.backends(ing)[:1]:
            svc = services.get((ns, ref.get("name")))
            port = alb_checks.service_port(svc, ref.get("port") or {}) if svc else None
            backend = next(iter(placement.selecting(ns, (svc or {}).get("spec", {}).get("selector"))), None)
            if not port or not port.get("nodePort") or backend is None:
                continue
            out.append(LoadBalancer("ALB", f"ALB {ns}/{ing['metadata']['name']}", scheme, int(listener),
                                    int(port["nodePort"]), port.get("targetPort", port["port"]), backend,
                                    svc["spec"].get("externalTrafficPolicy", "Cluster") == "Cluster", False, True,
                                    _vias(model, scheme, "ALB")))
    return out


def _node_ports(model: Model, placement: Placement, covered: set) -> list[Flow]:
    """Every other NodePort kube-proxy forwards across nodes (a Service of type NodePort or LoadBalancer with
    externalTrafficPolicy Cluster, the default, whose NodePort no modelled load balancer sends to): a client on
    node A connects to A's NodePort, and A forwards it, masqueraded, to a pod on node B. The client's own leg
    depends on who it is (the VPC's NodePort range is open to the VPC); the forwarded leg is the stack's."""
    out = []
    for svc in model.of_kind("Service"):
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer") or spec.get("externalTrafficPolicy") == "Local":
            continue
        backend = next(iter(placement.selecting(svc["metadata"].get("namespace", "default"), spec.get("selector"))),
                       None)
        for port in spec.get("ports") or []:
            proto = port.get("protocol", "TCP").lower()
            if backend is None or not port.get("nodePort") or (proto, int(port["nodePort"])) in covered:
                continue
            node_port = int(port["nodePort"])

            def walk(w, nodes, variant, backend=backend, proto=proto, node_port=node_port):
                dst = placement.pod(backend, nodes[1], 0)
                return w.from_host(nodes[0], nodes[0].ip, proto, node_port, endpoint=dst, who="a client on the node")
            ref = f"{svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"
            out.append(Flow(f"NodePort {ref}:{node_port} -> pod on another node",
                            f"client -> node:{node_port}/{proto} -> {backend.name}:{port.get('targetPort', port['port'])}",
                            True, walk, 2, "other", role_names=("NodePort", backend.name)))
    return out


PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _probes(model: Model, placement: Placement) -> list[tuple[Template, int, tuple[str, ...]]]:
    """(template, port, probe kinds) of every network probe (httpGet, tcpSocket, grpc) kubelet runs against a
    pod on the pod network, by port; a named port is the container's own."""
    found: dict[tuple[str, int], list[str]] = {}
    for obj in model.objects:
        workload = f"{obj['kind']}/{obj['metadata']['name']}"
        t = placement.templates.get(workload)
        if t is None or t.host_network or t.namespace != obj["metadata"].get("namespace", "default"):
            continue
        for c in obj["spec"]["template"]["spec"].get("containers") or []:
            named = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}
            for kind in PROBES:
                action = next((v for k, v in (c.get(kind) or {}).items() if k in ("httpGet", "tcpSocket", "grpc")),
                              None)
                port = (action or {}).get("port")
                number = named.get(port) if isinstance(port, str) else port
                if number is not None:
                    found.setdefault((workload, int(number)), []).append(kind)
    return [(placement.templates[w], port, tuple(kinds)) for (w, port), kinds in found.items()]


def _control_plane_targets(model: Model) -> list[tuple[str, str, int, Template | None]]:
    """What the control plane calls on the nodes: kubelet, and the webhooks and API servers of hostNetwork
    pods (None: the node's address), or of pods on the pod network (which it cannot reach)."""
    targets = [("kubelet", "tcp", facts.KUBELET_PORT, None)]
    for s in model.host_services:
        if re.search(r"webhook|apiserver", s.name):
            targets.append((s.name, s.protocol, s.port, None))
    values = model.lb_controller
    if values and not values.get("hostNetwork"):
        placement_t = Template("Deployment/aws-load-balancer-controller", "kube-system",
                               {"app.kubernetes.io/name": "aws-load-balancer-controller"},
                               (("webhook-server", "tcp", int(values.get("webhookBindPort", 9443)), "controller"),))
        targets.append(("aws-load-balancer-controller webhook (pod network)", "tcp",
                        int(values.get("webhookBindPort", 9443)), placement_t))
    return targets
