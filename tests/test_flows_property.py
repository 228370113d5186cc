"""Property: on any stack the config allows -- any number of nodes, any zones, any mode -- every promised flow
holds and every promised denial is denied. Each example is an engine run (~3 s), so few are drawn and the
draw is fixed (derandomize); set HYPOTHESIS_FLOWS_EXAMPLES to draw more locally."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from k8snet.cni.dataplane import ENCAPSULATIONS
from offline.flows import verify
from tests.flows_models import run_model

MODES = [(cni, enc) for cni, encs in ENCAPSULATIONS.items() for enc in encs]


@st.composite
def stacks(draw) -> dict:
    zones = draw(st.integers(2, 3))
    indices = draw(st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True))
    letters = "abc"[:zones]
    nodes = {f"node{i}": {"index": i, "zone": f"us-east-1{draw(st.sampled_from(letters))}"} for i in indices}
    cni, encapsulation = draw(st.sampled_from(MODES))
    return {"availabilityZones": zones, "nodes": nodes, "cni": cni, "encapsulation": encapsulation,
            "kubeProxyMode": draw(st.sampled_from(["iptables", "ipvs"])), "nodeLocalDns": draw(st.booleans())}


@settings(max_examples=int(os.environ.get("HYPOTHESIS_FLOWS_EXAMPLES", "3")), deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_every_promised_flow_holds_on_any_stack(config):
    model = run_model(config)
    v = verify(model)
    assert v.holds, f"{config}:\n" + "\n".join(v.problems)
    # The placements cover every node: each node is in one class, and classes never outnumber nodes.
    assert sorted(n for c in v.classes for n in c) == sorted(config["nodes"])
