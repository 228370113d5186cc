"""The packet path (issue 12): every flow the design promises and every denial it promises, walked hop by hop by
the engine's own verifier (offline/flows) over the plan (policypack/flows.py builds its model).

A first preview cannot walk anything: the nodes' and NAT gateways' addresses, which decide every hop (the
security group a packet's source belongs to, the interface a local route delivers to, the host-protection
policy's node addresses), are assigned by EC2 when the instances are created. The policy says so once;
`python -m offline` walks the same flows over the simulated AWS for that first deployment, and every preview
of a deployed stack (whose state holds the addresses) walks the plan itself.
"""

from __future__ import annotations

from offline.flows import verify

from ..flows import model_of
from ..plan import Plan
from ..registry import MANDATORY, stack_rule
from .aws import REGION, configured_region


@stack_rule("packet-flows", "Every flow the stack promises gets through and every denial it promises holds, hop by "
                            "hop: security groups, network ACLs, route tables, source/dest check, the CNI's routing "
                            "and tunnels, kube-proxy, NetworkPolicy, the listening port",
            level=MANDATORY, config=REGION,
            why="Objects that each look right can still drop a packet between them (a rule admitting the wrong "
                "source, a route to the wrong node, a policy the SNAT defeats): the app, DNS or the control plane "
                "stops working, or a denial the design promises (pods to the nodes' ports) leaks. Mandatory.")
def check_flows(plan: Plan, config: dict):
    if len(plan.of_type("aws:ec2/vpc:Vpc")) != 1:
        return  # the verifier models one VPC (the stack creates one)
    with plan.checking("the packet flows"):
        yield from verify(model_of(plan, plan.region(configured_region(config)))).problems
