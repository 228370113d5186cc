"""The kernel against the flow model: every flow of the model (offline/flows) that the emulation can run, walked
by both on the same state; their verdicts must agree.

How a flow becomes a probe: the model's flows call one of its walker's entry points (from a pod, from a host,
from an interface, from the internet, through a load balancer) with the pods they place; a recording walker
keeps that call. The emulation runs one pod per (node, namespace, name) any case places, with its own
addresses (a policy's verdict does not depend on which address in a block a pod has), and translates the
call: the same client namespace, the destination's address, and kube-proxy's choice pinned to the endpoint the
case names (by the probe's source address and port). Load balancers from the internet are relays in their
subnets (instance targets, client IP preservation off). Overlay flows between nodes (UDP 4789/8472, IPIP) run
as pod traffic through the tunnel: the kernel's tunnel device holds those ports itself.

What the emulation does not run is reported as not covered, with the reason: a decision the model takes before
any packet (a headless name resolved by CoreDNS), load balancers preserving the client's address.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, ip_address

from ..flows import facts
from ..flows.catalogue import flows as catalogue
from ..flows.placement import Placement, Pod
from ..flows.verify import _assignments, node_classes
from ..flows.walk import Services, Trace, Walker
from . import kernel, probe
from .plan import INTERNET_HOSTS, Plan, build, pod_role, public_addresses
from .services import Backend, Service, ServicePort, services

FIRST_PORT = 20000  # the probes' source ports, one per case in order (the same case, the same port: kube-proxy's
# pins stay put from state to state; clients close with a reset, so no TIME_WAIT holds a port)
# A pod on every node no policy selects: overlay flows between nodes run as its traffic through the tunnel, path
# MTU is measured between two of them.
PROBE = ("default", "dataplane-probe")
ECHO = 7777


@dataclass
class Case:
    flow: str
    label: str
    promise: bool
    trace: Trace
    entry: str  # which walker entry point the flow called
    args: dict


class _Recorder(Walker):
    """The model's walker, keeping the first entry-point call of each walk."""

    def __init__(self, model, placement):
        super().__init__(model, placement)
        self.calls: list[tuple[str, dict]] = []

    def _keep(self, entry: str, **args) -> None:
        self.calls.append((entry, {**args, "prelude": tuple(self.prelude)}))

    def from_pod(self, pod, dst, proto, port, endpoint=None, pods=()):
        self._keep("pod", src=pod, dst=dst, proto=proto, port=port, endpoint=endpoint, pods=tuple(pods))
        return super().from_pod(pod, dst, proto, port, endpoint, pods)

    def from_host(self, node, dst, proto, port, endpoint=None, who="", pods=()):
        self._keep("host", node=node, dst=dst, proto=proto, port=port, endpoint=endpoint, pods=tuple(pods))
        return super().from_host(node, dst, proto, port, endpoint, who, pods)

    def from_interface(self, iface_id, dst, proto, port, who, endpoint=None, pods=()):
        self._keep("interface", iface=iface_id, dst=dst, proto=proto, port=port, endpoint=endpoint, pods=tuple(pods))
        return super().from_interface(iface_id, dst, proto, port, who, endpoint, pods)

    def from_internet(self, src, dst, proto, port, pods=()):
        self._keep("internet", src=src, dst=dst, proto=proto, port=port, endpoint=None, pods=tuple(pods))
        return super().from_internet(src, dst, proto, port, pods)

    def through_load_balancer(self, lb, scheme, iface_id, node, port, listener, client_ip, endpoint=None,
                              from_internet=True, pods=()):
        self._keep("load balancer", iface=iface_id, node=node, port=port, client_ip=client_ip, endpoint=endpoint,
                   from_internet=from_internet, pods=tuple(pods), dst=node.ip, proto="tcp")
        return super().through_load_balancer(lb, scheme, iface_id, node, port, listener, client_ip, endpoint,
                                             from_internet, pods)


def cases(model) -> tuple[Placement, list[Case]]:
    """Every case the model's verification walks (its flows over the node classes and variants), recorded."""
    placement = Placement(model)
    walker = _Recorder(model, placement)
    out = []
    for flow in catalogue(model, placement):
        for nodes, _ in _assignments(flow, node_classes(model)):
            for variant in flow.variants:
                if not flow.applies(nodes, variant):
                    continue
                walker.calls.clear()
                trace = flow.walk(walker, nodes, variant)
                if walker.calls:
                    entry, args = walker.calls[0]
                    out.append(Case(flow.name, flow.label(nodes, variant), flow.promise, trace, entry, args))
    return placement, out


@dataclass
class Run:
    """A case as the kernel runs it (``probe``), or why it cannot (``uncovered``)."""

    case: Case
    probe: probe.Probe | None = None
    uncovered: str | None = None
    pin: tuple | None = None  # ((namespace, service), client address, client port, endpoint)
    relay: tuple | None = None  # (load balancer's namespace, listening port, upstream, upstream's source port)
    outcome: probe.Outcome | None = None

    @property
    def agrees(self) -> bool | None:
        return None if self.outcome is None else self.outcome.ok == self.case.trace.allowed


@dataclass
class Layout:
    """The emulation's inputs for a set of cases: the pods they need and each case's run."""

    pods: dict[tuple, Pod] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def pod(self, model, node: str, namespace: str, name: str, labels, ports) -> Pod:
        key = (node, namespace, name)
        if key not in self.pods:
            block = model.nodes[node].pod_cidr
            taken = {p.ip for p in self.pods.values() if p.node == node}
            address = next(a for a in block.hosts() if int(a) - int(block.network_address) >= 2 and a not in taken)
            self.pods[key] = Pod(name, namespace, dict(labels), node, address, tuple(ports))
        return self.pods[key]

    def of(self, model, p) -> Pod:
        """The emulation's pod for a pod the model placed."""
        return self.pod(model, p.node, p.namespace, p.name, p.labels, p.ports)

    def probe_pod(self, model, node: str) -> Pod:
        ns, name = PROBE
        return self.pod(model, node, ns, name, {"run": name}, (("echo", "tcp", ECHO, "probe"), ("echo", "udp", ECHO, "probe")))


def _tunnel(model, args) -> bool:
    t = facts.TUNNELS.get((model.cni.kind, model.cni.encapsulation))
    return t is not None and (args["proto"], args["port"]) == (t[0], t[1]) and args["dst"] in {
        n.ip for n in model.nodes.values()}


def layout(model, placement: Placement, recorded: Sequence[Case], public: Mapping[str, str]) -> Layout:
    """Translate each case into the emulation: pods, probes, kube-proxy pins, relays."""
    out = Layout()
    for node in sorted(model.nodes):
        out.probe_pod(model, node)
    ports = itertools.count(FIRST_PORT)
    svc = Services(model)
    nodes_by_ip = {n.ip: n for n in model.nodes.values()}
    node_ns = {n.name: f"node/{n.name}" for n in model.nodes.values()}
    public_by_model = {model.interfaces[e].public_ip: a for e, a in public.items()
                       if model.interfaces[e].public_ip is not None}

    for case in recorded:
        run = Run(case)
        out.runs.append(run)
        a = case.args
        if any(not h.ok for h in a["prelude"]):
            run.uncovered = f"decided before any packet ({a['prelude'][-1].at}): not emulated"
            continue
        if a.get("client_ip"):
            run.uncovered = "client IP preservation is not emulated"
            continue
        placed = [p for p in (a.get("src"), a.get("endpoint"), *a["pods"]) if p is not None and hasattr(p, "node")]
        mine = {p.ip: (nodes_by_ip[p.ip] if p.host_network else out.of(model, p)) for p in placed}
        dst = ip_address(str(a["dst"]))
        target = mine.get(dst)
        dst_ip = str(target.ip) if target is not None else str(public_by_model.get(dst, dst))
        sport = next(ports)
        kw = dict(proto=a["proto"], port=a["port"])
        if case.entry == "pod":
            src = a["src"]
            where = node_ns[src.node] if src.host_network else pod_role(out.of(model, src))
            run.probe = probe.Probe(case.flow, where, dst_ip, a["port"], a["proto"], sport=sport)
        elif case.entry == "host":
            node = a["node"]
            if _tunnel(model, a):  # the tunnel device holds the port: send pod traffic through it instead
                src_pod, dst_pod = out.probe_pod(model, node.name), out.probe_pod(model, nodes_by_ip[dst].name)
                run.probe = probe.Probe(case.flow, pod_role(src_pod), str(dst_pod.ip), ECHO, "tcp", sport=sport)
                continue
            run.probe = probe.Probe(case.flow, node_ns[node.name], dst_ip, a["port"], a["proto"], sport=sport)
        elif case.entry == "interface":
            run.probe = probe.Probe(case.flow, f"eni/{a['iface']}", dst_ip, a["port"], a["proto"], sport=sport)
        elif case.entry == "internet":
            run.probe = probe.Probe(case.flow, "internet", dst_ip, a["port"], a["proto"],
                                    bind=str(a["src"]), sport=sport)
        else:  # a load balancer's node -> the NodePort, for a client on the internet or for itself
            lb_ns = f"eni/{a['iface']}"
            if a["from_internet"]:
                listen = FIRST_PORT - 1 - len([r for r in out.runs if r.relay])
                upstream_sport = next(ports)
                run.relay = (lb_ns, listen, (str(a["node"].ip), a["port"]), upstream_sport)
                address = public.get(a["iface"]) or str(model.interfaces[a["iface"]].ip)
                run.probe = probe.Probe(case.flow, "internet", address, listen, "tcp", bind=INTERNET_HOSTS[1],
                                        sport=sport)
                sport = upstream_sport
                client = model.interfaces[a["iface"]].ip
            else:
                run.probe = probe.Probe(case.flow, lb_ns, str(a["node"].ip), a["port"], "tcp", sport=sport)
                client = model.interfaces[a["iface"]].ip
            _pin(run, model, svc, placement, out, (a["node"].ip, "tcp", a["port"]), a["endpoint"], client, sport,
                 node_port=True)
            continue
        client = _client_address(model, case, out)
        _pin(run, model, svc, placement, out, (dst, a["proto"], a["port"]), a.get("endpoint"), client, sport)
    return out


def _client_address(model, case: Case, out: Layout):
    """The source address kube-proxy sees for the case's first packet (a host's: its own, routed by eth0)."""
    a = case.args
    if case.entry == "pod":
        src = a["src"]
        return model.nodes[src.node].ip if src.host_network else out.of(model, src).ip
    if case.entry == "host":
        return a["node"].ip
    if case.entry == "interface":
        return model.interfaces[a["iface"]].ip
    return a.get("src")


def _pin(run: Run, model, svc: Services, placement: Placement, out: Layout, key, endpoint, client, sport,
         node_port: bool = False) -> None:
    """Pin kube-proxy's choice for a probe whose destination is a Service (ClusterIP or NodePort)."""
    dst, proto, port = key
    if not node_port and (dst, proto, port) == svc.api:
        run.pin = (("default", "kubernetes"), client, sport, endpoint)
        return
    hit = svc.node_port.get((proto, port)) if node_port else svc.cluster_ip.get((dst, proto, port))
    if hit is None:
        return
    obj = hit[0]
    ref = (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"])
    if endpoint is None:  # the model's own pick: an endpoint on the client's node, else the first
        selector = obj["spec"].get("selector") or {}
        candidates = [p for p in placement.pods if p.namespace == ref[0] and selector
                      and all(p.labels.get(k) == v for k, v in selector.items())]
        if not candidates:
            return
        endpoint = candidates[0]
    if hasattr(endpoint, "node") and not endpoint.host_network:
        run.pin = (ref, client, sport, out.of(model, endpoint))


def _services(model, lay: Layout) -> list[Service]:
    """kube-proxy's Services for the layout's pods, each probe's endpoint pinned; the API server's own Service."""
    pins: dict[tuple, list] = {}
    api_pins = []
    for run in lay.runs:
        if run.pin is None or run.probe is None:
            continue
        ref, client, sport, endpoint = run.pin
        if ref == ("default", "kubernetes"):
            api_pins.append((client, sport, endpoint))
        elif client is not None:
            pins.setdefault(ref, []).append((client, sport, endpoint))
    api = None
    if model.control_plane is not None:
        ifaces = list(model.control_plane.interfaces)
        backends = tuple(Backend(model.interfaces[i].ip, facts.API_SERVER_PORT, None) for i in ifaces)
        pinned = tuple((str(c), p, ifaces.index(e)) for c, p, e in api_pins if c is not None and e in ifaces)
        api = Service("default", "kubernetes", IPv4Address(model.service_cidr.network_address + 1),
                      (ServicePort("tcp", facts.API_SERVER_PORT, None, backends, pinned),))
    return services(model.objects, lay.pods.values(), pins, api)


def emulation_plan(model, lay: Layout, prefix: str, mtu: int | None = None) -> Plan:
    return build(model, list(lay.pods.values()), prefix, mtu, _services(model, lay))


def serve(model, plan: Plan, lay: Layout, servers: probe.Servers) -> None:
    """Listeners where the model says something listens: pods on their declared ports, nodes on the host
    services', the control plane on the API port, the internet host; and the load balancers' relays."""
    for pod in lay.pods.values():
        for _, proto, port, _ in pod.ports:
            servers.listen(plan.netns(pod_role(pod)), pod.name, port, proto)
    tunnel = facts.TUNNELS.get((model.cni.kind, model.cni.encapsulation))
    for node in model.nodes.values():
        for s in model.host_services:
            if s.nodes is not None and node.name not in s.nodes:
                continue
            if tunnel is not None and (s.protocol, s.port or None) == (tunnel[0], tunnel[1]):
                continue  # the tunnel device's own port
            if s.protocol in ("tcp", "udp") and s.port:
                # node-local-dns binds its addresses only (its bind plugin), so a UDP answer leaves from them
                for address in [str(a) for a in s.addresses] or [str(node.ip)]:
                    servers.listen(plan.netns(f"node/{node.name}"), s.name if s.addresses else node.name, s.port,
                                   s.protocol, address)
    for role in plan.namespaces:
        if role.startswith("eni/") and model.interfaces[role[4:]].owner == "control-plane":
            servers.listen(plan.netns(role), "control-plane", facts.API_SERVER_PORT)
    for port in (80, 443):
        servers.listen(plan.netns("internet"), "internet", port)
    for run in lay.runs:
        if run.relay is not None:
            lb_ns, listen, upstream, sport = run.relay
            servers.proxy(plan.netns(lb_ns), lb_ns, listen, upstream, sport)


@dataclass
class Comparison:
    runs: list[Run]
    emulation: kernel.Emulation  # still running: the caller tears it down (or moves it to another state)
    path_mtu: list[probe.Outcome]  # path_mtu's probes


def compare(model, mtu: int | None = None, emulation: kernel.Emulation | None = None, timeout: float = 0.5,
            ipip: str = "auto", measure_mtu: bool = True, lay: Layout | None = None) -> Comparison:
    """Walk every case in the model and in the kernel, and measure the path MTU. With ``emulation`` (a running one
    built for the same pods, e.g. before a mutation) it is moved to ``model``'s state instead of built anew (one
    built here is torn down here if anything fails). ``lay``: the model's ``layout`` when the caller made it."""
    prefix = emulation.plan.prefix if emulation is not None else kernel.new_prefix()
    lay = lay or layout(model, *cases(model), public_addresses(model))
    plan = emulation_plan(model, lay, prefix, mtu)
    built = emulation is None
    if built:
        emulation = kernel.Emulation(plan, ipip=ipip).__enter__()
    try:
        if not built:
            emulation.resync(plan)
        runnable = [r for r in lay.runs if r.probe is not None]
        for r in runnable:  # roles become the namespaces' names
            r.probe = replace(r.probe, netns=plan.netns(r.probe.netns))
        servers = probe.Servers()
        try:
            serve(model, plan, lay, servers)
            outcomes = probe.run([r.probe for r in runnable], servers, timeout,
                                 expected=[r.case.trace.allowed for r in runnable])
            for r, o in zip(runnable, outcomes):
                r.outcome = o
            mtu_outcomes = path_mtu(model, plan, servers, timeout) if measure_mtu else []
        finally:
            servers.close()
    except BaseException:
        if built:
            emulation.__exit__(None, None, None)
        raise
    return Comparison(lay.runs, emulation, mtu_outcomes)


def path_mtu(model, plan: Plan, servers: probe.Servers, timeout: float = 0.5) -> list[probe.Outcome]:
    """From the first node's probe pod to each other node's: one UDP datagram of the pods' MTU and one a byte
    bigger, DF set (probe.py). Pairs in node order: [fits, too big] per other node."""
    pods = {p.node: p for p in plan.pods if (p.namespace, p.name) == PROBE}
    names = sorted(pods)
    probes = [probe.Probe(f"path MTU {names[0]} -> {n}: {size}", plan.netns(pod_role(pods[names[0]])), str(pods[n].ip),
                          ECHO, "udp", size=size) for n in names[1:] for size in (plan.mtu, plan.mtu + 1)]
    return probe.run(probes, servers, timeout)


def rows(runs: Sequence[Run]) -> list[list[str]]:
    """flow, case, model verdict (deciding hop), kernel verdict, agreement."""
    out = []
    for r in runs:
        t = r.case.trace
        model = f"{'allow' if t.allowed else 'deny'}" + ("" if t.allowed else f" at {t.decisive.at}")
        if r.outcome is None:
            kernel_says, mark = f"not covered: {r.uncovered}", "-"
        else:
            o = r.outcome
            kernel_says = f"allow ({o.server}, saw {o.seen_source})" if o.ok else f"deny ({o.detail})"
            mark = "ok" if r.agrees else "DIFFERS"
        out.append([r.case.flow, r.case.label, model, kernel_says, mark])
    return out


def sweep(model, changes: Sequence, mtu: int | None = None, timeout: float = 0.5,
          workers: int = 4) -> dict[str, list[Run]]:
    """``compare`` on the intact model and on each change (objects with ``key`` and ``apply(model)``). Returns change
    key -> runs ("" for the intact model), in the order given.

    The states are shared out over ``workers`` emulations (a build costs ~0.1 s), each moved from state to state in a
    thread: a state whose drops cannot answer (a reply with no route back is silence, as on AWS) waits out its
    timeout while the others go on, instead of every such wait adding up. Each emulation takes its states grouped by
    the pods they place (a change can move which node stands for a class, and with it the pods the cases place), so
    that moving it to the next state needs a rebuild only between groups. Threads enter namespaces per thread
    (netns.inside); the time goes to probes, ip/nft processes and the kernel."""
    intact_lay = layout(model, *cases(model), public_addresses(model))
    intact = compare(model, mtu, timeout=timeout, lay=intact_lay)
    out: dict[str, list[Run]] = {"": intact.runs}
    groups: dict[tuple, list] = {tuple(sorted(intact_lay.pods)): []}  # the intact state's pods first: its emulation goes on
    for change in changes:
        changed = change.apply(model)
        lay = layout(changed, *cases(changed), public_addresses(changed))
        groups.setdefault(tuple(sorted(lay.pods)), []).append((change, changed, lay))
    # Each group dealt round-robin over the emulations (states that wait out a timeout tend to come together: the
    # deleted routes of one group), group after group: an emulation rebuilds at most once per group.
    shares: list[list] = [[] for _ in range(max(1, workers))]
    for group in groups.values():
        for i, state in enumerate(group):
            shares[i % len(shares)].append(state)
    done: dict[str, list[Run]] = {}

    def work(share, emulation=None) -> None:
        try:
            for change, changed, lay in share:
                try:
                    result = compare(changed, mtu, emulation, timeout, measure_mtu=False, lay=lay)
                except kernel.DataplaneError:  # other pods or links: a fresh emulation
                    if emulation is None:
                        raise
                    emulation.__exit__(None, None, None)
                    emulation = None
                    result = compare(changed, mtu, timeout=timeout, measure_mtu=False, lay=lay)
                emulation = result.emulation
                done[change.key] = result.runs
        finally:
            if emulation is not None:
                emulation.__exit__(None, None, None)

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:  # the intact state's emulation goes on with the first share
        futures = [pool.submit(work, share, intact.emulation if n == 0 else None) for n, share in enumerate(shares)]
        for future in futures:
            future.result()
    out.update((change.key, done[change.key]) for change in changes)
    return out
