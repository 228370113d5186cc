"""The load balancer controller, its ALB Ingresses and NLB Services over the plan: offline/checks/alb.py's
checks, with what they read from AWS restated over the plan's resources (subnets' tags and zones, the nodes'
subnets, the EKS cluster, the VPC and the IRSA role the release's values were computed from)."""

from __future__ import annotations

import ipaddress
import json

from k8snet.shared import tags
from offline.checks import alb
from offline.checks.app import WORKLOAD_KINDS

from ..plan import Plan, known
from ..registry import ADVISORY, MANDATORY, stack_rule
from .app import known_services
from .network import nodes
from .schemas import kube_schemas

SUBNET = "aws:ec2/subnet:Subnet"
CLUSTER = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
VPC = "aws:ec2/vpc:Vpc"


def subnet_zones(plan: Plan, role: str) -> list[str]:
    """Zones of the subnets the controller discovers for a scheme (tagged ``<role>=1``)."""
    return sorted({known(s.props.get("availabilityZone"), f"subnet {s.name}: availabilityZone")
                   for s in plan.of_type(SUBNET) if s.tags().get(role) == "1"})


def node_addresses(plan: Plan) -> list[tuple[str, str]]:
    """Each node's address if known, else its subnet's first and last usable address (AWS reserves the first
    four and the last): the addresses kube-proxy's SNAT gives the ALB's connections."""
    out = []
    for name, instance in sorted(nodes(plan).items()):
        ip = instance.props.get("privateIp")
        if isinstance(ip, str):
            out.append((f"node {name}", ip))
            continue
        for subnet in plan.deps(instance, "subnetId", SUBNET):
            net = ipaddress.ip_network(known(subnet.props.get("cidrBlock"), f"subnet {subnet.name}: cidrBlock"))
            out += [(f"node {name} (subnet {net})", str(net[4])), (f"node {name} (subnet {net})", str(net[-2]))]
    return out


@stack_rule("alb-ingress", "ALB Ingresses: annotations the controller parses, listeners, paths, backends with "
                           "NodePorts, subnets in two zones, NetworkPolicies that admit the nodes",
            level=MANDATORY,
            why="The controller refuses an Ingress with an unknown or malformed annotation, an HTTPS listener without "
                "a certificate or a wildcard Prefix path, and leaves it without an ALB; subnets in one zone or "
                "policies dropping the nodes' SNATed traffic leave every target unhealthy. Mandatory.")
def check_alb_ingress(plan: Plan, config: dict):
    objects = plan.kube_objects()
    for ing in alb.alb_ingresses(known([o for o in objects if o.get("kind") in ("IngressClass", "Ingress")],
                                       "the Ingresses")):
        who = f"Ingress {ing['metadata'].get('namespace', 'default')}/{ing['metadata']['name']}"
        with plan.checking(who):
            workloads = known([o for o in objects if o.get("kind") in ("NetworkPolicy", "Pod", *WORKLOAD_KINDS)],
                              "the workloads and NetworkPolicies")
            relevant = workloads + known_services(plan)
            found, targets = alb.ingress_object_problems(ing, relevant)
            yield from found
            addresses = node_addresses(plan)
            for where, svc, port in targets:
                yield from alb.policy_problems(where, svc, port, relevant, addresses)
            scheme = (ing["metadata"].get("annotations") or {}).get("alb.ingress.kubernetes.io/scheme", "internal")
            role = tags.ELB_ROLE if scheme == "internet-facing" else tags.INTERNAL_ELB_ROLE
            zones = subnet_zones(plan, role)
            if len(zones) < 2:
                yield f"{who}: {scheme} needs subnets tagged {role}=1 in two zones, found {zones}"


@stack_rule("nlb-service-annotations", "NLB Services carry only annotations the controller parses",
            level=MANDATORY,
            why="The controller refuses a Service whose service.beta.kubernetes.io/aws-load-balancer-* annotation "
                "it cannot parse: no NLB. Mandatory.")
def check_nlb_services(plan: Plan, config: dict):
    yield from alb.nlb_service_problems(known_services(plan))


class PlanAws:
    """What alb.release_problems asks AWS (alb.AwsView), answered from the plan: the EKS clusters' names, and the
    VPC and IRSA role the release's values were computed from (their ids are unknown during preview)."""

    def __init__(self, plan: Plan, release):
        self.plan, self.release = plan, release

    def cluster_names(self) -> set[str]:
        return {known(c.props.get("name"), f"cluster {c.name}: name") for c in self.plan.of_type(CLUSTER)}

    def vpc_ids(self) -> set[str]:
        if self.plan.deps(self.release, "values", VPC):
            return {((self.release.props.get("values") or {}).get("vpcId"))}
        return set()

    def role_trust(self, role_name: str) -> dict | None:
        roles = [r for r in self.plan.of_type(ROLE) if r.props.get("name") == role_name] or \
            self.plan.deps(self.release, "values", ROLE)
        if len(roles) != 1:
            return None
        return json.loads(known(roles[0].props.get("assumeRolePolicy"), f"role {roles[0].name}: assumeRolePolicy"))


@stack_rule("lb-controller-release", "The load balancer controller's release: the pinned chart, values the chart "
                                     "reads, its cluster and VPC, an IRSA role trusting exactly its service account",
            level=MANDATORY,
            why="Helm ignores a misspelt value silently; a release for another cluster or VPC, or without its IRSA "
                "role, runs a controller that cannot create load balancers or that uses the nodes' role. Mandatory.")
def check_lb_controller(plan: Plan, config: dict):
    for release in plan.of_type(alb.RELEASE):
        if release.props.get("chart") != alb.lb_controller.CHART:
            continue
        with plan.checking(f"helm release {release.name}"):
            known(release.props, "its values")
            yield from alb.release_problems([release], kube_schemas(plan), PlanAws(plan, release))


@stack_rule("lb-controller-webhook-order", "Every object a fail-closed webhook of the load balancer controller "
                                           "intercepts (the ALB Ingress) waits for the controller, or the controller "
                                           "for it",
            level=ADVISORY,
            why="The controller's Ingress validator (and, if enabled, its Service mutator) fails closed: an object "
                "created while no replica serves it is refused, but a retried `pulumi up` succeeds. Advisory: a "
                "transient failure, not a broken network.")
def check_webhook_order(plan: Plan, config: dict):
    yield from alb.webhook_order_problems(plan.records)


@stack_rule("lb-controller-service-mutator", "The load balancer controller's Service mutator webhook is off and "
                                             "every LoadBalancer Service names its loadBalancerClass",
            level=MANDATORY,
            why="The mutator (chart default: on) fails closed on every Service CREATE in the cluster: while no "
                "replica serves it (an upgrade, a lost node) no Service can be created anywhere; and with it off, "
                "a LoadBalancer Service without the class gets a Classic Load Balancer from EKS's cloud provider. "
                "Mandatory.")
def check_service_mutator(plan: Plan, config: dict):
    releases = [r for r in plan.of_type(alb.RELEASE) if r.props.get("chart") == alb.lb_controller.CHART]
    with plan.checking("the controller's values"):
        known([r.props.get("values") for r in releases], "its values")
        yield from alb.load_balancer_class_problems(releases, known_services(plan))
