"""Pure allocation logic: property tests with hypothesis."""

from ipaddress import ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8snet.network import addressing
from k8snet.network import routing

POD = ip_network("10.1.0.0/16")


def test_documents_blocks():
    assert addressing.node_pod_block(POD, 24, 1) == ip_network("10.1.1.0/24")
    assert addressing.node_pod_block(POD, 24, 2) == ip_network("10.1.2.0/24")
    assert addressing.node_capacity(POD, 24) == 255


@st.composite
def pod_layouts(draw):
    base_prefix = draw(st.integers(min_value=8, max_value=24))
    network = draw(st.integers(min_value=0, max_value=2**base_prefix - 1)) << (32 - base_prefix)
    pod = ip_network((network, base_prefix))
    prefix = draw(st.integers(min_value=base_prefix + 1, max_value=min(28, base_prefix + 12)))
    capacity = addressing.node_capacity(pod, prefix)
    indices = draw(st.sets(st.integers(min_value=1, max_value=capacity), min_size=1, max_size=min(capacity, 40)))
    return pod, prefix, {f"n{i}": i for i in indices}


@given(pod_layouts())
def test_blocks_are_disjoint_and_inside_the_pod_cidr(layout):
    pod, prefix, nodes = layout
    blocks = addressing.allocate_pod_blocks(pod, prefix, nodes)
    assert all(b.subnet_of(pod) and b.prefixlen == prefix for b in blocks.values())
    ordered = sorted(blocks.values())
    assert all(not a.overlaps(b) for a, b in zip(ordered, ordered[1:]))
    assert len(set(blocks.values())) == len(nodes)


@given(pod_layouts(), st.data())
def test_a_nodes_block_ignores_other_nodes(layout, data):
    pod, prefix, nodes = layout
    before = addressing.allocate_pod_blocks(pod, prefix, nodes)
    removed = data.draw(st.sets(st.sampled_from(sorted(nodes))))
    capacity = addressing.node_capacity(pod, prefix)
    free = sorted(set(range(1, capacity + 1)) - set(nodes.values()))
    added = data.draw(st.sets(st.sampled_from(free), max_size=5)) if free else set()
    changed = {n: i for n, i in nodes.items() if n not in removed} | {f"new{i}": i for i in added}
    after = addressing.allocate_pod_blocks(pod, prefix, changed)
    assert all(after[n] == before[n] for n in nodes if n not in removed)


def test_duplicate_and_out_of_range_indices_are_refused():
    with pytest.raises(ValueError, match="share index 1"):
        addressing.allocate_pod_blocks(POD, 24, {"a": 1, "b": 1})
    for bad in (0, 256):
        with pytest.raises(ValueError, match="outside 1..255"):
            addressing.node_pod_block(POD, 24, bad)


@given(st.integers(min_value=16, max_value=22), st.integers(min_value=2, max_value=6))
def test_subnet_plan_is_disjoint_inside_the_vpc(prefix, zone_count):
    vpc = ip_network((0xC0A80000, prefix))  # 192.168.0.0/prefix
    zones = [f"zone-{c}" for c in "abcdef"[:zone_count]]
    if zone_count > addressing.max_zones(vpc):
        with pytest.raises(ValueError):
            addressing.subnet_plan(vpc, zones)
        return
    plan = addressing.subnet_plan(vpc, zones)
    nets = [z.private for z in plan] + [z.public for z in plan]
    assert all(n.subnet_of(vpc) and n.prefixlen == 24 for n in nets)
    assert len({str(n) for n in nets}) == len(nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    # A zone's subnets depend on its position only: adding a zone never moves the others.
    if zone_count > 2:
        assert addressing.subnet_plan(vpc, zones[:2]) == plan[:2]


def test_documents_subnets():
    plan = addressing.subnet_plan(ip_network("192.168.0.0/16"), ["us-east-1a", "us-east-1b"])
    assert [str(z.private) for z in plan] == ["192.168.1.0/24", "192.168.2.0/24"]
    assert [str(z.public) for z in plan] == ["192.168.129.0/24", "192.168.130.0/24"]


@given(st.integers(min_value=1, max_value=9), st.integers(min_value=1, max_value=200))
def test_zone_slot_round_robin_is_a_function_of_the_index(zones, index):
    assert addressing.zone_slot(index, zones) == (index - 1) % zones


def test_route_plan_is_keyed_by_table_and_destination():
    blocks = {"node2": ip_network("10.1.2.0/24"), "node1": ip_network("10.1.1.0/24")}
    plan = routing.pod_route_plan(blocks, ["us-east-1b", "us-east-1a"])
    assert plan["us-east-1a-10.1.1.0/24"] == ("node1", "us-east-1a", ip_network("10.1.1.0/24"))
    assert len(plan) == 4
    # A block that moves to another node keeps its key (AWS's key: table and destination).
    moved = routing.pod_route_plan({"node4": ip_network("10.1.2.0/24"), "node1": ip_network("10.1.1.0/24")},
                                   ["us-east-1b", "us-east-1a"])
    assert set(moved) == set(plan) and moved["us-east-1b-10.1.2.0/24"][0] == "node4"
    assert routing.routes_per_private_table(3, "none") == 5
    assert routing.routes_per_private_table(300, "vxlan") == 2
