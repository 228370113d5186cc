"""Checks of an update's steps (offline.harness.lifecycle): what AWS accepts in that order but leaves a
window in which the network is wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import routes

INSTANCE = "aws:ec2/instance:Instance"


def replacement_problems(steps: Sequence, records: Mapping[str, object]) -> list[str]:
    """A worker instance replaced create-before-delete: until the old one is deleted at the end of the update,
    two instances carry the node's label, so Calico's pool (its nodeSelector is that label) and flannel's
    podCIDR assigner give both the node's pod block, while the VPC routes point at one of them. A node must
    be replaced delete-first (and drained before)."""
    problems = []
    for i, step in enumerate(steps):
        if step.op != "create-replacement" or step.type != INSTANCE:
            continue
        record = records.get(step.urn)
        node = ((record.inputs.get("tags") or {}) if record else {}).get(routes.NODE_TAG)
        before = steps[i - 1] if i else None
        if node and not (before and before.op == "delete-replaced" and before.urn == step.urn):
            problems.append(f"{record.name}: replaced create-before-delete: while the update runs, two instances "
                            f"are node {node} and both take its pod block; set deleteBeforeReplace on the instance")
    return problems
