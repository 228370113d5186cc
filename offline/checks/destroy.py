"""`pulumi destroy` in reverse dependency order: what must still exist while each resource is deleted.

Pulumi deletes a resource before everything it depends on (dependencies, parent, provider) and runs
independent deletions in parallel, so the only things certain to exist while R is deleted are R's
transitive dependencies (offline.harness.dependencies.closure). A deletion that needs something else can
hang: it waits for a node that is already gone, or a controller's finalizer that nobody will run.

- A Helm release whose chart has a hook that needs a node (the tigera-operator chart's pre-delete Job,
  offline/checks/charts facts ``hooks``) must depend on a worker instance.
- Objects the AWS Load Balancer Controller finalizes (NLB Services, ALB Ingresses) must depend on its
  release: deleting them waits for the controller to delete their load balancers.
- That release must depend on a worker instance (its pods run there) and on the NAT gateways and default
  routes of the private tables (it reaches the ELB and EC2 APIs through them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from k8snet.app.manifests import NLB_CLASS
from k8snet.ingress import lb_controller

from ..harness.dependencies import closure, delete_order, dependency_edges
from ..kube import helm
from . import routes
from .cni import RELEASE

INSTANCE = "aws:ec2/instance:Instance"


def _workers(records: Iterable) -> set[str]:
    return {r.urn for r in records if r.type == INSTANCE and routes.NODE_TAG in (r.inputs.get("tags") or {})}


def _egress(records: Iterable) -> set[str]:
    """NAT gateways and the routes that send the private tables' default traffic to them."""
    return {r.urn for r in records if r.type == "aws:ec2/natGateway:NatGateway"
            or (r.type == "aws:ec2/route:Route" and r.inputs.get("natGatewayId")
                and r.inputs.get("destinationCidrBlock") == "0.0.0.0/0")}


def _finalized_by_lb_controller(record) -> bool:
    spec = record.inputs.get("spec") or {}
    if record.type == "kubernetes:core/v1:Service":
        return spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass") == NLB_CLASS
    return record.type == "kubernetes:networking.k8s.io/v1:Ingress"


def destroy_problems(records: Mapping[str, object]) -> list[str]:
    """Deletions that would wait for something Pulumi may already have deleted (empty when none)."""
    records = {u: r for u, r in records.items()}
    edges = dependency_edges(records)
    workers, egress = _workers(records.values()), _egress(records.values())
    releases = [r for r in records.values() if r.type == RELEASE]
    controller = [r for r in releases if r.inputs.get("chart") == lb_controller.CHART]
    problems = []
    for rel in releases:
        hooks = [h for h in helm.facts(rel.inputs.get("chart", ""), rel.inputs.get("version", "")).get("hooks") or []
                 if h.get("needs") == "node"]
        if hooks and workers and not closure(rel.urn, edges) & workers:
            problems.append(f"{rel.name}: its chart's {hooks[0]['event']} hook ({hooks[0]['kind']} "
                            f"{hooks[0]['name']}) needs a node, but the release does not depend on the worker "
                            "nodes: `pulumi destroy` may delete them first and the uninstall hangs")
    for rel in controller:
        alive = closure(rel.urn, edges)
        if workers and not alive & workers:
            problems.append(f"{rel.name}: does not depend on the worker nodes its pods run on; on destroy it "
                            "could not finalize the load balancers of its Services and Ingresses")
        missing = sorted(records[u].name for u in egress - alive)
        if missing:
            problems.append(f"{rel.name}: does not depend on {', '.join(missing)}: on destroy the controller may "
                            "lose its way to the ELB and EC2 APIs before it has deleted its load balancers")
        for obj in records.values():
            if _finalized_by_lb_controller(obj) and rel.urn not in closure(obj.urn, edges):
                problems.append(f"{obj.type.split(':')[-1]} {obj.name}: the load balancer controller finalizes it "
                                f"but it does not depend on {rel.name}: `pulumi destroy` may remove the controller "
                                "first and the deletion waits for ever")
    return problems


def destroy_order(records: Mapping[str, object]) -> list[str]:
    """The names in one order `pulumi destroy` may delete the stack in (for reports and tests)."""
    return [records[u].name for u in delete_order(records)]


def check_run(result) -> list[str]:
    return destroy_problems(result.records)
