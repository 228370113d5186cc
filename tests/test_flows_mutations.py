"""Mutation tests of the flow verifier, generated from the state (offline/flows/mutations.py): delete any one
security group rule, pod route or NetworkPolicy allow rule, or turn a source/dest check on, and exactly
the paths that passed a hop on that piece alone fail, each at that hop; nothing else changes."""

from __future__ import annotations

import pytest

from offline.flows import verify
from offline.flows.mutations import changed, expected_failures, mutations
from tests.flows_models import MODES, model, with_pre_fix_rules


@pytest.mark.parametrize("mode", MODES)
def test_each_mutation_fails_exactly_its_dependent_flows_at_the_named_hop(mode):
    m = model(mode)
    intact = verify(m, exhaustive=True)
    muts = mutations(m)
    kinds = {mut.kind for mut in muts}
    assert {"security group rule", "NetworkPolicy rule", "source/dest check"} <= kinds
    assert ("pod route" in kinds) == (not m.cni.overlay)  # overlays carry pod traffic without VPC routes
    biting = set()
    for mut in muts:
        want = expected_failures(intact, mut.key)
        got = changed(intact, verify(mut.apply(m), exhaustive=True))
        assert got == want, f"{mut.what}: {sorted(set(got.items()) ^ set(want.items()))}"
        if got:
            biting.add(mut.kind)
    # Not vacuous: every kind of state the routed modes hold carries some promised flow.
    assert biting >= ({"security group rule", "NetworkPolicy rule"} |
                      (set() if m.cni.overlay else {"pod route", "source/dest check"}))


def test_mutations_bite_on_the_pre_fix_state_too():
    """The same holds where the review's breaks are present (nothing new opens, nothing else closes)."""
    m = with_pre_fix_rules(model("calico-none"))
    intact = verify(m, exhaustive=True)
    for mut in mutations(m):
        assert changed(intact, verify(mut.apply(m), exhaustive=True)) == expected_failures(intact, mut.key), mut.what
