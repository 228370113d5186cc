"""The emulated data plane (offline/dataplane): the stack's state as network namespaces, real packets through
the kernel. The plan tests read text and run anywhere; the kernel tests need root and network namespaces
(.ci/run runs them as root) and skip with the reason otherwise.

One engine run per CNI mode for the whole module, read into plain data at once (moto is reset by the next run).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import pytest

from offline import OfflineEngine
from offline.dataplane import kernel, mutations, plan as plans, probe, walks
from offline.dataplane.pods import place
from offline.dataplane.state import read

from tests.conftest import ROOT

MODES = {
    "calico/none": {},
    "calico/vxlan": {"encapsulation": "vxlan"},
    "calico/ipip": {"encapsulation": "ipip"},
    "flannel/vxlan": {"cni": "flannel", "encapsulation": "vxlan"},
}
# REFERENCE.md (AWS: 9001 inside a VPC; VXLAN costs 50 bytes, IPIP 20): the largest packet a pod may send.
MODE_MTU = {"none": 9001, "vxlan": 8951, "ipip": 8981}
# The ports the overlays travel on between nodes (Calico docs "Network requirements"; flannel's backend docs).
TUNNEL = {"calico/vxlan": ("udp", 4789), "calico/ipip": ("4", None), "flannel/vxlan": ("udp", 8472)}


class Runs:
    """mode -> (state, app namespace); the dev stack also without node2's pod routes (deleted in moto)."""

    def __init__(self):
        self.cache = {}

    def __getitem__(self, mode: str):
        if mode not in self.cache:
            with OfflineEngine(ROOT, "dev", MODES[mode]) as engine:
                result = engine.run()
                assert result.ok, result.error
                ec2 = engine.client("ec2")
                state = read(result, ec2, engine.kube.objects.values())
                entry = {"state": state, "ns": result.exports["appNamespace"]}
                if mode == "calico/none":
                    node2 = state.nodes["node2"]
                    for table in ec2.describe_route_tables()["RouteTables"]:
                        for r in table["Routes"]:
                            if r.get("NetworkInterfaceId") == node2.interface:
                                ec2.delete_route(RouteTableId=table["RouteTableId"],
                                                 DestinationCidrBlock=r["DestinationCidrBlock"])
                    entry["without_node2_routes"] = read(result, ec2, engine.kube.objects.values())
            self.cache[mode] = entry
        return self.cache[mode]


@pytest.fixture(scope="module")
def runs():
    return Runs()


@pytest.fixture(scope="module")
def kernel_ready():
    reason = kernel.unavailable_reason()
    if reason:
        pytest.skip(reason)


@contextmanager
def emulated(state, ns: str, ipip: str = "auto"):
    """The state in the kernel with the echo servers up; always torn down."""
    plan = plans.build(state, place(state.nodes, state.objects, ns), kernel.new_prefix())
    with kernel.Emulation(plan, ipip=ipip) as emu:
        servers = probe.Servers()
        try:
            walks.listen(plan, servers)
            yield plan, emu, servers
        finally:
            servers.close()


def pod(plan, name: str):
    return next(p for p in plan.pods if p.name == name)


def pod_probe(plan, src: str, dst: str, port: int = walks.ECHO_PORT, protocol: str = "tcp", **kw) -> probe.Probe:
    s, d = pod(plan, src), pod(plan, dst)
    return probe.Probe(f"{src}->{dst}", plan.netns(plans.pod_role(s)), str(d.ip), port, protocol, **kw)


def lb_probe(plan, node, port: int) -> probe.Probe:
    lb = sorted(r for r in plan.namespaces if r.startswith("eni/elb-"))[0]
    return probe.Probe(f"{lb}->{node.name}:{port}", plan.netns(lb), str(node.ip), port)


def node_port(state, name: str) -> int:
    svc = next(o for o in state.objects if o["kind"] == "Service" and o["metadata"]["name"] == name)
    return svc["spec"]["ports"][0]["nodePort"]


# --- the plan, as text (no root needed) -------------------------------------------------------------------

def test_the_router_tables_are_the_vpc_route_tables(runs):
    state = runs["calico/none"]["state"]
    plan = plans.build(state, place(state.nodes, state.objects, "webapp"), "t-")
    vpc = plan.namespaces["vpc"].lines
    port_of = {}
    for line in vpc:
        if line.startswith("addr add") and "dev eni" in line:
            pass
    for node in state.nodes.values():
        # the router interface holding the node's ENI: the one its /32 leaves by in the table of ENI addresses
        port_of[node.name] = next(line.split()[-3] for line in vpc
                                  if line.startswith(f"route add {node.ip}/32 dev") and line.endswith("table 250"))
    for number, table in zip(range(1000, 1100), sorted(state.tables)):
        routes = state.tables[table].routes
        emitted = [line for line in vpc if line.endswith(f" table {number}")]
        for r in routes:
            if r.kind == "local":
                assert f"route add throw {r.destination} table {number}" in emitted
            elif r.kind == "eni":
                node = next(n for n in state.nodes.values() if n.interface == r.target)
                assert f"route add {r.destination} via {node.ip} dev {port_of[node.name]} onlink table {number}" in emitted
            elif r.kind == "nat":
                assert any(line.startswith(f"route add {r.destination} via ") for line in emitted)
        assert len(emitted) == len(routes) + (0 if any(r.destination.prefixlen == 0 for r in routes) else 1)


def test_each_subnet_routes_by_its_own_table(runs):
    state = runs["calico/none"]["state"]
    plan = plans.build(state, place(state.nodes, state.objects, "webapp"), "t-")
    rules = [line for line in plan.namespaces["vpc"].lines if line.startswith("rule add pref 100 iif eni")]
    tables = {tid: 1000 + i for i, tid in enumerate(sorted(state.tables))}
    for node in state.nodes.values():
        port = next(line.split()[-3] for line in plan.namespaces["vpc"].lines
                    if line.startswith(f"route add {node.ip}/32 dev") and line.endswith("table 250"))
        want = tables[state.subnets[state.interfaces[node.interface].subnet].route_table]
        assert f"rule add pref 100 iif {port} lookup {want}" in rules


def test_security_group_rules_become_nft_rules_by_id(runs):
    state = runs["calico/none"]["state"]
    script = "\n".join(plans.build(state, [], "t-").namespaces["vpc"].nft)
    node_groups = {g for n in state.nodes.values() for g in state.interfaces[n.interface].groups}
    for rule in state.rules:
        if rule.group in node_groups and (rule.cidr is not None or state.group_members.get(rule.peer_group)):
            assert f'"{rule.id}"' in script


def test_overlay_devices_as_the_cnis_program_them(runs):
    for mode, device, vni, port in (("calico/vxlan", "vxlan.calico", 4096, 4789), ("flannel/vxlan", "flannel.1", 1, 8472)):
        state = runs[mode]["state"]
        plan = plans.build(state, [], "t-")
        node1, node2 = state.nodes["node1"], state.nodes["node2"]
        lines = plan.namespaces["node/node1"].lines
        assert f"link add {device} type vxlan id {vni} local {node1.ip} dev eth0 dstport {port} nolearning" in lines
        assert f"route add {node2.pod_cidr} via {node2.tunnel_ip} dev {device} onlink" in lines
        assert any(f.endswith(f"dev {device} dst {node2.ip} self permanent") for f in plan.namespaces["node/node1"].fdb)


# --- the kernel ---------------------------------------------------------------------------------------------

def test_nothing_reaches_or_remains_in_the_root_namespace(runs, kernel_ready):
    state = runs["calico/none"]["state"]
    before = kernel.root_snapshot()
    with emulated(state, "webapp") as (plan, emu, servers):
        assert len(kernel.ours(plan.prefix)) == len(plan.namespaces)
        assert all(o.ok for o in probe.run([pod_probe(plan, "probe-node1", "probe-node2")], servers))
        during = kernel.root_snapshot()
    assert during == before
    assert kernel.root_snapshot() == before
    assert kernel.ours(plan.prefix) == []


def test_a_failed_build_leaves_nothing_behind(runs, kernel_ready):
    state = runs["calico/none"]["state"]
    plan = plans.build(state, [], kernel.new_prefix())
    plan.namespaces["node/node1"].lines.append("route add 10.9.9.0/24 via 203.0.113.1")  # unreachable gateway
    with pytest.raises(kernel.DataplaneError):
        with kernel.Emulation(plan):
            pass
    assert kernel.ours(plan.prefix) == []


def test_stale_namespaces_of_dead_runs_are_removed(kernel_ready):
    import subprocess
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, live = f"{kernel.BASE_PREFIX}{dead.pid}-0-vpc", f"{kernel.new_prefix()}vpc"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert stale in kernel.clean_stale()
        assert kernel.ours() .count(stale) == 0 and live in kernel.ours()
    finally:
        subprocess.run(["ip", "netns", "del", live])
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_routed_pods_reach_pods_on_other_nodes_and_zones_unencapsulated(runs, kernel_ready):
    state = runs["calico/none"]["state"]
    with emulated(state, "webapp") as (plan, emu, servers):
        assert not plan.tunnels and not any("vxlan" in line for ns in plan.namespaces.values() for line in ns.lines)
        results = probe.run([pod_probe(plan, "probe-node1", "probe-node2"),  # other zone
                             pod_probe(plan, "probe-node1", "probe-node3"),  # same zone, other node
                             pod_probe(plan, "probe-node2", "probe-node3", protocol="udp")], servers)
        for o in results:
            assert o.ok, o
            src = o.probe.key.split("->")[0]
            assert o.seen_source == str(pod(plan, src).ip)  # no SNAT, no tunnel: the pod's own address


def test_deleting_a_nodes_pod_routes_isolates_exactly_its_pods(runs, kernel_ready):
    """node2's pod routes deleted in moto, the state read back: node2's pods can no longer be reached from other
    nodes' pods; every other pair is unchanged."""
    entry = runs["calico/none"]
    clients = [f"probe-node{i}" for i in (1, 2, 3)]
    pairs = [(a, b) for a in clients for b in clients if a != b]
    with emulated(entry["state"], entry["ns"]) as (plan, emu, servers):
        before = probe.run([pod_probe(plan, a, b) for a, b in pairs], servers)
        assert all(o.ok for o in before), [str(o) for o in before]
        emu.resync(plans.build(entry["without_node2_routes"], plan.pods, plan.prefix))
        after = probe.run([pod_probe(plan, a, b) for a, b in pairs], servers)
    broken = {(a, b) for (a, b), o in zip(pairs, after) if not o.ok}
    assert {(a, b) for a, b in broken if b == "probe-node2"} == {("probe-node1", "probe-node2"),
                                                                ("probe-node3", "probe-node2")}
    assert all("node2" in a + b for a, b in broken)  # nothing that does not involve node2 broke


@pytest.mark.parametrize("mode", list(MODES))
def test_path_mtu_is_the_modes_mtu(runs, kernel_ready, mode):
    """A packet of exactly the mode's MTU crosses to a pod on another node with DF set; one byte more fails."""
    entry = runs[mode]
    want = MODE_MTU[entry["state"].cni.encapsulation]
    with emulated(entry["state"], entry["ns"], ipip="userspace" if mode == "calico/ipip" else "auto") as (plan, emu, servers):
        assert plan.mtu == want  # the CNI config's MTU, which the pods' interfaces get
        results = probe.run([pod_probe(plan, "probe-node1", dst, protocol="udp", size=size)
                             for dst in ("probe-node2", "probe-node3") for size in (want, want + 1)], servers)
    fits, too_big = results[0::2], results[1::2]
    assert all(o.ok for o in fits), [str(o) for o in fits]
    assert not any(o.ok for o in too_big)


@pytest.mark.parametrize("mode", ["calico/vxlan", "calico/ipip", "flannel/vxlan"])
def test_overlay_traffic_travels_in_the_tunnel(runs, kernel_ready, mode):
    """Pod to pod across nodes arrives with the pod's address; the outer packets are the tunnel's, between the
    nodes: delete the security group rule that admits the tunnel's protocol/port and pod traffic stops there
    (silently for the pod: the ICMP error goes to the tunnel's sender, the node's kernel, which drops it)."""
    entry = runs[mode]
    proto, port = TUNNEL[mode]
    state = entry["state"]
    tunnel_rules = [r for r in state.rules if r.protocol == proto and r.from_port == port and not r.egress]
    assert tunnel_rules
    without = state
    for rule in tunnel_rules:
        without = next(m for m in mutations.mutations(without) if m.key == f"sg-rule:{rule.id}").apply(without)
    ipip = "userspace" if mode == "calico/ipip" else "auto"
    with emulated(state, entry["ns"], ipip) as (plan, emu, servers):
        through = probe.run([pod_probe(plan, "probe-node1", "probe-node2")], servers)[0]
        emu.resync(plans.build(without, plan.pods, plan.prefix))
        blocked = probe.run([pod_probe(plan, "probe-node1", "probe-node2")], servers)[0]
    assert through.ok and through.seen_source == str(pod(plan, "probe-node1").ip), through
    assert not blocked.ok and blocked.detail == "timed out", blocked


@pytest.mark.parametrize("mode", list(MODES))
def test_nodeport_traffic_forwarded_to_a_pod_on_another_node(runs, kernel_ready, mode):
    """A load balancer's node -> NodePort on a node without the webapp pod -> kube-proxy DNATs it to the pod on
    another node and masquerades it. Unencapsulated the pod sees the forwarding node's address, through an
    overlay the forwarding node's tunnel address (the kernel picks the tunnel device's address: calico#5533)."""
    entry = runs[mode]
    state = entry["state"]
    ipip = "userspace" if mode == "calico/ipip" else "auto"
    with emulated(state, entry["ns"], ipip) as (plan, emu, servers):
        webapp = next(p for p in plan.pods if p.labels.get("app") == "webapp")
        other = next(n for n in state.nodes.values() if n.name != webapp.node)
        result = probe.run([lb_probe(plan, other, node_port(state, "webapp-nodeport"))], servers)[0]
    assert result.ok, result
    assert result.server == webapp.name
    want = other.tunnel_ip if state.cni.encapsulation != "none" else other.ip
    assert result.seen_source == str(want)


def _before_the_review_fix(state):
    """The state as the code before the review's fix left it (REFERENCE.md, "Found in the 2026-12 review"):
    no rule opening the pods' web port between nodes, and a webapp policy admitting only the VPC CIDR."""
    nodes_sg = {g for n in state.nodes.values() for g in state.interfaces[n.interface].groups}
    rules = tuple(r for r in state.rules if not (r.group in nodes_sg and r.peer_group in nodes_sg and r.protocol == "tcp"
                                                 and r.from_port == r.to_port == 80))
    objects = []
    for o in state.objects:
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "webapp-ingress":
            spec = o["spec"]
            ingress = [{**rule, "from": [p for p in rule.get("from", [])
                                         if p.get("ipBlock", {}).get("cidr") == str(state.vpc_cidr)]}
                       for rule in spec["ingress"]]
            o = {**o, "spec": {**spec, "ingress": ingress}}
        objects.append(o)
    return replace(state, rules=rules, objects=tuple(objects))


@pytest.mark.parametrize("mode", list(MODES))
def test_the_review_defect_in_the_kernel(runs, kernel_ready, mode):
    """Before the fix, NodePort traffic forwarded to a pod on another node died: unencapsulated at the receiving
    node's security group (the forwarding node's address on the pod's port), through an overlay at the webapp's
    NetworkPolicy (the tunnel source, inside the pod CIDR, is no VPC address)."""
    entry = runs[mode]
    state = _before_the_review_fix(entry["state"])
    ipip = "userspace" if mode == "calico/ipip" else "auto"
    with emulated(state, entry["ns"], ipip) as (plan, emu, servers):
        webapp = next(p for p in plan.pods if p.labels.get("app") == "webapp")
        other = next(n for n in state.nodes.values() if n.name != webapp.node)
        local = state.nodes[webapp.node]
        port = node_port(state, "webapp-nodeport")
        forwarded, direct = probe.run([lb_probe(plan, other, port), lb_probe(plan, local, port)], servers)
    assert direct.ok, direct  # on the pod's own node nothing crosses a node boundary
    want = "refused: security group" if state.cni.encapsulation == "none" else "refused: NetworkPolicy"
    assert not forwarded.ok and forwarded.detail == want, forwarded


def test_the_report_walks_the_documents_paths(runs, kernel_ready):
    import io
    from offline.dataplane.cli import report
    entry = runs["calico/none"]
    out = io.StringIO()
    pairs = report(entry["state"], entry["ns"], out)
    text = out.getvalue()
    assert "Emulated data plane (calico, encapsulation none, pod MTU 9001)" in text
    verdicts = {(w.name, w.what): o.ok for w, o in pairs}
    assert verdicts[("pod -> pod, other zone", "default/probe-node1 -> default/probe-node2:7777/tcp")]
    assert not verdicts[("path MTU (other zone)", "default/probe-node1 -> default/probe-node2: 9002-byte packet, DF")]
    assert not any(ok for (name, _), ok in verdicts.items() if name == "internet -> node directly")
