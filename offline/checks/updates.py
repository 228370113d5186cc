"""Checks of an update's steps (offline.harness.lifecycle): what AWS accepts in that order but leaves a
window in which the network is wrong; and, before any update, the options that decide that order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from . import routes

INSTANCE = "aws:ec2/instance:Instance"


def _node(record) -> str | None:
    return (record.inputs.get("tags") or {}).get(routes.NODE_TAG) if record.type == INSTANCE else None


def delete_first_problems(records: Iterable) -> list[str]:
    """Worker instances a replacement would create before deleting the old one (see replacement_problems):
    the options are recorded with the resource, so this holds before any update runs."""
    return [f"{r.name}: node {_node(r)} would be replaced create-before-delete, and while the update runs two "
            "instances take its pod block; set deleteBeforeReplace on the instance"
            for r in records if _node(r) and not (r.options or {}).get("deleteBeforeReplace")]


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
        node = _node(record) if record else None
        before = steps[i - 1] if i else None
        if node and not (before and before.op == "delete-replaced" and before.urn == step.urn):
            problems.append(f"{record.name}: replaced create-before-delete: while the update runs, two instances "
                            f"are node {node} and both take its pod block; set deleteBeforeReplace on the instance")
    return problems
