"""Node pod blocks: validated in one pass over the blocks in address order, with the same answer (and the
same first offender in the error) as comparing every pair."""

from ipaddress import ip_network

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from k8snet.cni import dataplane


def _every_pair(blocks: dict[str, str]) -> str | None:
    """The check as it was before it ran in address order: every pair, in name order."""
    items = [(n, ip_network(c)) for n, c in sorted(blocks.items())]
    for i, (a, net_a) in enumerate(items):
        if net_a.version != 4:
            return f"{a}: {net_a} is not IPv4"
        for b, net_b in items[i + 1:]:
            if net_a.overlaps(net_b):
                return f"pod blocks of {a} ({net_a}) and {b} ({net_b}) overlap"
    return None


# Blocks inside 10.0.0.0/20: nested, adjacent and disjoint ones all likely.
_block = st.builds(lambda third, prefix: str(ip_network(f"10.0.{third}.0/{prefix}", strict=False)),
                   st.integers(0, 15), st.integers(20, 26))


@given(st.dictionaries(st.sampled_from([f"node{i}" for i in range(1, 13)]), _block, min_size=1, max_size=12))
@example({"node1": "10.0.0.0/18", "node2": "10.0.128.0/18", "node3": "10.0.0.0/20"})  # overlap not in name order
@example({"node1": "10.0.0.0/24", "node2": "fd00::/64", "node3": "10.0.0.0/25"})  # IPv6 after an overlap
def test_same_verdict_and_message_as_every_pair(blocks):
    expected = _every_pair(blocks)
    if expected is None:
        assert dataplane.node_blocks(blocks) == {n: ip_network(c) for n, c in sorted(blocks.items())}
    else:
        with pytest.raises(ValueError) as err:
            dataplane.node_blocks(blocks)
        assert str(err.value) == expected


def test_a_thousand_disjoint_blocks_pass():
    blocks = {f"node{i}": str(ip_network((0x0A010000 + 64 * i, 26))) for i in range(1, 1001)}
    assert len(dataplane.node_blocks(blocks)) == 1000
