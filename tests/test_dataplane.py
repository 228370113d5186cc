"""The emulated data plane (offline/dataplane): the stack's state as network namespaces, real packets through the
kernel. The plan tests read text and run anywhere; the kernel tests need root and network namespaces (.ci/run runs
them as root) and skip with the reason otherwise. tests/test_dataplane_differential.py compares with the model.

Engine runs: none of its own; the flow tests' models (tests/flows_models.py, one run per mode per session).
"""

from __future__ import annotations

import os
import subprocess
import threading
from contextlib import ExitStack, contextmanager

import pytest

from offline.dataplane import differential, kernel, plan as plans, probe, spawning
from offline.flows import verify
from offline.flows.mutations import mutations
from tests.flows_models import model

OVERLAYS = {"calico-vxlan": ("udp", 4789), "calico-ipip": ("4", None), "flannel-vxlan": ("udp", 8472)}


@pytest.fixture(scope="module")
def kernel_ready():
    reason = kernel.unavailable_reason()
    if reason:
        pytest.skip(reason)


def probes_only(m) -> differential.Layout:
    lay = differential.Layout()
    for node in sorted(m.nodes):
        lay.probe_pod(m, node)
    return lay


@contextmanager
def emulated(m, ipip: str = "auto", mtu: int | None = None):  # IPIP: the kernel's device, else the TUN stand-in
    """The model's state in the kernel with a probe pod on every node, echo servers up; always torn down."""
    lay = probes_only(m)
    plan = differential.emulation_plan(m, lay, kernel.new_prefix(), mtu)
    with kernel.Emulation(plan, ipip=ipip) as emu:
        servers = probe.Servers()
        try:
            differential.serve(m, plan, lay, servers)
            yield plan, emu, lay, servers
        finally:
            servers.close()


def pod_probe(plan, lay, m, a: str, b: str, protocol: str = "tcp") -> probe.Probe:
    src, dst = lay.probe_pod(m, a), lay.probe_pod(m, b)
    return probe.Probe(f"{a}->{b}", plan.netns(plans.pod_role(src)), str(dst.ip), differential.ECHO, protocol)


def port_of(vpc_lines: list[str], node) -> str:
    """The router interface standing for the node's ENI: the one its /32 leaves by in the table of ENI addresses."""
    return next(line.split()[4] for line in vpc_lines
                if line.startswith(f"route add {node.ip}/32 dev") and line.endswith("table 250"))


# --- the plan, as text (no root needed) -------------------------------------------------------------------

def test_the_router_tables_are_the_vpc_route_tables():
    m = model("calico-none")
    vpc = plans.build(m, [], "t-").namespaces["vpc"].lines
    for number, tid in zip(range(1000, 1100), sorted(m.tables)):
        routes = m.tables[tid].routes
        emitted = [line for line in vpc if line.endswith(f" table {number}")]
        for r in routes:
            if r.kind == "local":
                assert f"route add throw {r.destination} table {number}" in emitted
            elif r.kind == "eni":
                node = m.node_by_interface[r.target]
                assert f"route add {r.destination} via {node.ip} dev {port_of(vpc, node)} onlink table {number}" in emitted
            elif r.kind == "nat":
                nat = m.interfaces[m.gateways[r.target].interface]
                assert any(line.startswith(f"route add {r.destination} via {nat.ip} ") for line in emitted)
            elif r.kind == "igw":
                assert f"route add {r.destination} dev igw table {number}" in emitted
        assert len(emitted) == len(routes) + (0 if any(r.destination.prefixlen == 0 for r in routes) else 1)


def test_each_subnet_routes_by_its_own_table():
    m = model("calico-none")
    vpc = plans.build(m, [], "t-").namespaces["vpc"].lines
    tables = {tid: 1000 + i for i, tid in enumerate(sorted(m.tables))}
    for node in m.nodes.values():
        want = tables[m.subnets[m.interfaces[node.interface].subnet].route_table]
        assert f"rule add pref 100 iif {port_of(vpc, node)} lookup {want}" in vpc


def test_security_group_rules_become_nft_rules_by_id():
    m = model("calico-none")
    script = "\n".join(plans.build(m, [], "t-").namespaces["vpc"].nft)
    node_groups = {g for n in m.nodes.values() for g in m.interfaces[n.interface].groups}
    checked = [r for r in m.rules if r.group in node_groups and (r.cidr is not None or m.group_members.get(r.peer_group))]
    assert checked and all(f'"{r.id}"' in script for r in checked)


def test_overlay_devices_as_the_cnis_program_them():
    for mode, device, vni, port in (("calico-vxlan", "vxlan.calico", 4096, 4789), ("flannel-vxlan", "flannel.1", 1, 8472)):
        m = model(mode)
        node1, node2 = m.nodes["node1"], m.nodes["node2"]
        host = plans.build(m, [], "t-").namespaces["node/node1"]
        assert f"link add {device} type vxlan id {vni} local {node1.ip} dev eth0 dstport {port} nolearning" in host.lines
        assert f"route add {node2.pod_cidr} via {node2.tunnel_ip} dev {device} onlink" in host.lines
        assert any(f.endswith(f"dev {device} dst {node2.ip} self permanent") for f in host.fdb)


# --- the kernel ---------------------------------------------------------------------------------------------

def test_nothing_reaches_or_remains_in_the_root_namespace(kernel_ready):
    m = model("calico-none")
    before = kernel.root_snapshot()
    with emulated(m) as (plan, emu, lay, servers):
        assert len(kernel.ours(plan.prefix)) == len(plan.namespaces)
        assert all(o.ok for o in probe.run([pod_probe(plan, lay, m, "node1", "node2")], servers))
        during = kernel.root_snapshot()
    assert during == before
    assert kernel.root_snapshot() == before
    assert kernel.ours(plan.prefix) == []


def test_a_failed_build_leaves_nothing_behind(kernel_ready):
    plan = plans.build(model("calico-none"), [], kernel.new_prefix())
    plan.namespaces["node/node1"].lines.append("route add 10.9.9.0/24 via 203.0.113.1")  # a gateway not on a link
    with pytest.raises(kernel.DataplaneError):
        with kernel.Emulation(plan):
            pass
    assert kernel.ours(plan.prefix) == []


def test_stale_namespaces_of_dead_runs_are_removed(kernel_ready):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, live = f"{kernel.BASE_PREFIX}{dead.pid}-0-vpc", f"{kernel.new_prefix()}vpc"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert stale in kernel.clean_stale()
        assert stale not in kernel.ours() and live in kernel.ours()
    finally:
        subprocess.run(["ip", "netns", "del", live])
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_routed_pods_reach_pods_on_other_nodes_and_zones_unencapsulated(kernel_ready):
    m = model("calico-none")
    assert m.nodes["node1"].zone != m.nodes["node2"].zone and m.nodes["node1"].zone == m.nodes["node3"].zone
    with emulated(m) as (plan, emu, lay, servers):
        assert not plan.tunnels and not any("vxlan" in line for ns in plan.namespaces.values() for line in ns.lines)
        results = probe.run([pod_probe(plan, lay, m, "node1", "node2"),  # other zone
                             pod_probe(plan, lay, m, "node1", "node3"),  # same zone, other node
                             pod_probe(plan, lay, m, "node2", "node3", "udp")], servers)
    for o in results:
        assert o.ok, o
        assert o.seen_source == str(lay.probe_pod(m, o.probe.key.split("->")[0]).ip)  # no SNAT, no tunnel


def test_deleting_a_nodes_pod_routes_isolates_exactly_its_pods(kernel_ready):
    """node2's pod block deleted from every route table (the model is what moto holds, read back: the state after the
    deletes): node2's pods and other nodes' pods no longer reach each other, either way (a reply to node2's pods has
    no route back either); every other pair is unchanged; the flow model says the same of its pod-to-pod cases."""
    m = model("calico-none")
    node2 = m.nodes["node2"]
    deletes = [c for c in mutations(m) if c.key.startswith("route:") and c.key.endswith(f":{node2.pod_cidr}")]
    assert len(deletes) == sum(1 for t in m.tables.values() for r in t.routes if r.target == node2.interface) > 0
    without = m
    for change in deletes:
        without = change.apply(without)
    pairs = [(a, b) for a in sorted(m.nodes) for b in sorted(m.nodes) if a != b]
    with emulated(m) as (plan, emu, lay, servers):
        before = probe.run([pod_probe(plan, lay, m, a, b) for a, b in pairs], servers)
        emu.resync(differential.emulation_plan(without, lay, plan.prefix))
        after = probe.run([pod_probe(plan, lay, m, a, b) for a, b in pairs], servers,
                          expected=["node2" not in pair for pair in pairs])
    assert all(o.ok for o in before), [str(o) for o in before]
    broken = {pair for pair, o in zip(pairs, after) if not o.ok}
    assert broken == {pair for pair in pairs if "node2" in pair}
    model_says = {case.nodes: case.trace.allowed for r in verify(without, exhaustive=True).results
                  if r.flow.name == "pod -> pod, other node" for case in r.cases}
    assert model_says and all(ok == ("node2" not in nodes) for nodes, ok in model_says.items()), model_says


@pytest.fixture(scope="module")
def tunnel_probes(kernel_ready) -> dict[str, tuple]:
    """Per overlay mode: pod node1 -> pod node2 through the tunnel, then with the security group rules that admit the
    tunnel's protocol/port deleted. The three modes' emulations run side by side, so their silent drops share one
    timeout. mode -> (through, blocked, the node1 probe pod's address)."""
    out = {}
    with ExitStack() as stack:
        servers = probe.Servers()
        stack.callback(servers.close)
        runs = []
        for mode, (proto, port) in OVERLAYS.items():
            m = model(mode)
            tunnel_rules = {f"sg-rule:{r.id}" for r in m.rules if r.protocol == proto and r.from_port == port
                            and not r.egress}
            assert tunnel_rules, mode
            without = m
            for change in mutations(m):
                if change.key in tunnel_rules:
                    without = change.apply(without)
            lay = probes_only(m)
            plan = differential.emulation_plan(m, lay, kernel.new_prefix())
            emu = stack.enter_context(kernel.Emulation(plan))
            differential.serve(m, plan, lay, servers)
            runs.append((mode, m, without, lay, plan, emu))
        through = probe.run([pod_probe(plan, lay, m, "node1", "node2") for _, m, _, lay, plan, _ in runs], servers)
        for _, _, without, lay, plan, emu in runs:
            emu.resync(differential.emulation_plan(without, lay, plan.prefix))
        blocked = probe.run([pod_probe(plan, lay, m, "node1", "node2") for _, m, _, lay, plan, _ in runs], servers,
                            expected=[False] * len(runs))
        for (mode, m, _, lay, _, _), t, b in zip(runs, through, blocked):
            out[mode] = (t, b, str(lay.probe_pod(m, "node1").ip))
    return out


@pytest.mark.parametrize("mode", list(OVERLAYS))
def test_overlay_traffic_travels_in_the_tunnel(tunnel_probes, mode):
    """Pod to pod across nodes arrives with the pod's address; the outer packets are the tunnel's, between the
    nodes: delete the security group rules that admit the tunnel's protocol/port and pod traffic stops there
    (silently for the pod: the ICMP error goes to the tunnel's sender, the node's kernel, which drops it)."""
    through, blocked, source = tunnel_probes[mode]
    assert through.ok and through.seen_source == source, through
    assert not blocked.ok and blocked.detail == "timed out", blocked


@pytest.mark.parametrize("mode", ["flannel-vxlan", "calico-vxlan", "calico-ipip"])
def test_a_pod_mtu_above_what_the_tunnel_carries_is_refused_on_the_path(kernel_ready, mode):
    """The check's teeth: pods given the VPC's 9001 in an overlay mode send a packet their own interface takes, and
    the node refuses it at the tunnel ("fragmentation needed" comes back), while the tunnel's MTU still passes.
    flannel keeps its VXLAN device at the interface MTU minus 50; the kernel refuses Felix a VXLAN MTU above that;
    the ipip driver answers a DF packet its tunnel cannot carry (the TUN stand-in does the same)."""
    m = model(mode)
    fits = 9001 - (20 if m.cni.encapsulation == "ipip" else 50)
    with emulated(m, mtu=9001) as (plan, emu, lay, servers):
        src, dst = lay.probe_pod(m, "node1"), lay.probe_pod(m, "node2")
        results = probe.run([probe.Probe(f"{n}", plan.netns(plans.pod_role(src)), str(dst.ip), differential.ECHO,
                                         "udp", size=n) for n in (fits, fits + 1, 9001)], servers,
                            expected=[True, False, False])
    assert results[0].ok, str(results[0])
    assert all(not o.ok and o.detail == "refused: fragmentation needed" for o in results[1:]), [str(o) for o in results]


def test_a_port_is_bound_again_only_once_no_child_can_hold_the_socket_that_had_it(kernel_ready):
    """The differential sweep moves its emulations in threads: a child one thread starts holds a copy of every
    descriptor from fork to exec, so a listener another thread closed meanwhile still listened, and binding its
    port again failed with EADDRINUSE (the sweep failed now and then under load; plain subprocess.run here gives
    exactly that). Children start under spawning.LOCK and binds wait for it: here a child is held between fork and
    exec (its preexec_fn waits on a pipe) while the port is bound again from another thread."""
    ns = f"{kernel.new_prefix()}spawn"
    forked_r, forked_w = os.pipe()
    go_r, go_w = os.pipe()

    def held() -> None:  # in the child, after fork: say so, then wait before exec
        os.write(forked_w, b"1")
        os.read(go_r, 1)

    spawning.run(["ip", "netns", "add", ns], check=True)
    old, new, bound = probe.Servers(), probe.Servers(), []
    try:
        old.listen(ns, "old", differential.ECHO)
        child = threading.Thread(target=spawning.run, args=(["true"],), kwargs={"preexec_fn": held})
        child.start()
        assert os.read(forked_r, 1) == b"1"  # the child holds the listener now
        old.close()

        def bind_again() -> None:
            try:
                new.listen(ns, "new", differential.ECHO)
                bound.append("bound")
            except OSError as exc:
                bound.append(exc.strerror)

        binder = threading.Thread(target=bind_again)
        binder.start()
        binder.join(0.3)  # it waits for the child's exec: nothing yet (unguarded, it failed at once)
        assert bound == []
        os.write(go_w, b"1")
        child.join()
        binder.join()
        assert bound == ["bound"]
    finally:
        os.write(go_w, b"1")  # never leave the child waiting
        new.close()
        old.close()
        for fd in (forked_r, forked_w, go_r, go_w):
            os.close(fd)
        kernel._delete([ns])
