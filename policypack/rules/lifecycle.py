"""The stack's life after its first `pulumi up`: offline/checks/destroy.py (what each deletion of `pulumi destroy`
needs still exists, in Pulumi's reverse dependency order) and updates.py (worker nodes replaced delete-first),
over the plan's dependencies and resource options, which a first preview knows in full."""

from __future__ import annotations

from offline.checks import destroy, updates

from ..plan import Plan
from ..registry import MANDATORY, stack_rule


@stack_rule("destroy-order", "`pulumi destroy` never deletes what a deletion still needs: the nodes a chart's "
                             "uninstall hook runs on, the load balancer controller while it finalizes load "
                             "balancers, its way to the AWS APIs",
            level=MANDATORY,
            why="Such a deletion waits for ever (a hook Job with no node, a finalizer nobody runs) and leaves the "
                "load balancers and their ENIs behind, which then block the VPC's deletion. Dependencies are part "
                "of the state: fixing them later takes an update before the destroy. Mandatory.")
def check_destroy(plan: Plan, config: dict):
    yield from destroy.destroy_problems(plan.by_urn)


@stack_rule("worker-replacement", "Every worker node instance is replaced delete-before-replace",
            level=MANDATORY,
            why="Replaced create-first (Pulumi's default), the new instance joins while the old one still runs: two "
                "nodes carry one node's label, Calico's pool and flannel's assigner give both its pod block, and "
                "the VPC routes it to only one of them until the update ends. Mandatory.")
def check_replacement(plan: Plan, config: dict):
    yield from updates.delete_first_problems(plan.resources)
