"""Services and NetworkPolicies over the plan's Kubernetes objects: offline/checks/app.py's checks, unchanged
(they read objects as the API server holds them; a plan's objects are those, less server-filled fields)."""

from __future__ import annotations

from k8snet.app import manifests
from offline.checks import app as app_checks

from .network import pod_routes, routed_blocks
from ..plan import Plan, known
from ..registry import MANDATORY, stack_rule

VPC = "aws:ec2/vpc:Vpc"


@stack_rule("service-backends", "Every Service selects pods that expose its target ports; nodePorts are unique and "
                                "in range; a StatefulSet's serviceName is its headless Service",
            level=MANDATORY,
            why="The API server accepts a Service that selects nothing or targets a port no container opens; it "
                "then has no endpoints and every connection is refused. Mandatory.")
def check_services(plan: Plan, config: dict):
    workloads = known([o for o in plan.kube_objects() if o.get("kind") in ("Pod", *app_checks.WORKLOAD_KINDS)],
                      "the workloads")
    yield from app_checks.service_problems(workloads + known_services(plan))


def known_services(plan: Plan) -> list[dict]:
    """The Services whose every value is known; the others are noted, not checked."""
    return plan.known_objects([o for o in plan.kube_objects() if o.get("kind") == "Service"])


def app_namespace(objects: list[dict]) -> str | None:
    """The example app's namespace: where its webapp pods run."""
    return next((ns for _, ns, labels, _ in app_checks.pod_templates(objects)
                 if all(labels.get(k) == v for k, v in manifests.WEBAPP_LABELS.items())), None)


@stack_rule("network-policy-flows", "The app's NetworkPolicies allow exactly its intended flows",
            level=MANDATORY,
            why="Default-deny policies that miss DNS, the load balancers' node addresses or webapp -> MySQL break "
                "the app; ones that admit other pods defeat the isolation. Evaluated on k8snet.app.flows' matrix. "
                "Mandatory.")
def check_flows(plan: Plan, config: dict):
    objects = plan.kube_objects()
    namespace = app_namespace(known([o for o in objects if o.get("kind") in app_checks.WORKLOAD_KINDS],
                                    "the workloads"))
    vpcs = plan.of_type(VPC)
    if namespace is None or len(vpcs) != 1:
        return
    vpc_cidr = known(vpcs[0].props.get("cidrBlock"), "the VPC's cidrBlock")
    relevant = [o for o in objects if o.get("kind") in ("NetworkPolicy", "DaemonSet")]
    # With an overlay, forwarded web traffic comes from the nodes' tunnel addresses, inside their blocks.
    forwarded = [] if pod_routes(plan) else sorted(str(b) for b in known(routed_blocks(plan), "the nodes' blocks")
                                                   .values() if isinstance(b, str) and b)
    yield from app_checks.flow_problems(known(relevant, "the NetworkPolicies"), namespace, vpc_cidr, forwarded)
