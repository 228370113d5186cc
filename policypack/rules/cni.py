"""The CNI against the VPC's routes: offline/checks/cni.py's checks, fed from the plan instead of EC2.

Calico: one IPPool per node, selecting exactly that node, whose CIDR is the block the VPC routes to it, blockSize
the pool's prefix, no encapsulation when the VPC routes pods, strict affinity, the operator's default pool off,
BGP off, the MTU the mode needs. Flannel: each node's podCIDR assigned once, equal to its routed block.
"""

from __future__ import annotations

from k8snet.cni import calico
from k8snet.cni import flannel
from offline.checks import cni as cni_checks

from ..plan import Plan, known
from ..registry import MANDATORY, stack_rule
from .network import pod_routes, routed_blocks


def encapsulation(plan: Plan, kind: str | None, values: dict, objects: dict) -> str:
    """The mode the plan uses: none when the VPC routes pods, else what the CNI is configured with (the stack's
    ``encapsulation`` setting is not part of the plan)."""
    if pod_routes(plan):
        return "none"
    if kind == "flannel":
        backend = (values.get("flannel") or {}).get("backend")
        return next((mode for mode, b in flannel.BACKENDS.items() if b == backend and mode != "none"), "none")
    pools = [o["spec"] for (av, k, _, _), o in objects.items() if av == calico.CRD_GROUP and k == "IPPool"]
    modes = {("ipip" if p.get("ipipMode") == "Always" else "vxlan" if p.get("vxlanMode") == "Always" else "none")
             for p in pools}
    return modes.pop() if len(modes) == 1 else "none"


@stack_rule("cni-pod-blocks", "The CNI gives each node exactly the pod block the VPC routes to it",
            level=MANDATORY,
            why="A pod addressed outside its node's routed block is unreachable from other nodes (the VPC sends its "
                "replies elsewhere); Calico without strict affinity borrows other nodes' addresses. Mandatory.")
def check_cni(plan: Plan, config: dict):
    # pools, IPAM config, the podCIDR assigners (not the host-protection policy, whose node addresses are
    # unknown in a first preview)
    objects = {key: obj for key, obj in plan.kube_object_map().items()
               if key[:2] in ((calico.CRD_GROUP, "IPPool"), (calico.CRD_GROUP, "IPAMConfig"), ("apps/v1", "DaemonSet"))}
    known(objects, "the IP pools or podCIDR assigners")
    records = plan.records
    kind, values = cni_checks.cni_of(records)
    known(values, "the CNI chart's values")
    blocks = known(routed_blocks(plan), "the routed blocks")
    yield from cni_checks.check_cni(objects, records, blocks, encapsulation(plan, kind, values, objects))
