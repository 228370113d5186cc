"""What the stack exposes (issue 13 "Exposure"; docs/security.md): the Kubernetes API endpoint and the load
balancers. Each is a setting a stack may loosen on purpose (the dev stack opens the API to 0.0.0.0/0 and
serves its ALB over HTTP), and the preview then warns; so do these policies, advisory. A stack that must
never do so sets ``enforcementLevel: mandatory`` for them in its pack config.

The ALB's and NLB's schemes, certificates and source ranges are the annotations and fields the load balancer
controller reads (offline/checks/alb.py parses them the same way).
"""

from __future__ import annotations

import ipaddress

from k8snet.app.manifests import NLB_CLASS
from offline.checks import alb

from ..plan import CLUSTER, Plan, known, known_object, mapping
from ..registry import ADVISORY, Violation, stack_rule

VPC = "aws:ec2/vpc:Vpc"
ANYWHERE = "0.0.0.0/0"
_NLB = "service.beta.kubernetes.io/aws-load-balancer-"
SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"


@stack_rule("api-endpoint-exposure", "The EKS API endpoint is private, or public to listed addresses only",
            level=ADVISORY,
            why="A public endpoint open to 0.0.0.0/0 (CIS EKS 5.4.1/5.4.2) answers anyone who finds it; every "
                "request still needs IAM credentials and an access entry, and `pulumi up` from a workstation needs "
                "the endpoint reachable, so a stack may open it on purpose (apiPublicAccessCidrs; the dev stack "
                "does). Advisory, like the preview's warning.")
def check_api_endpoint(plan: Plan, config: dict):
    for cluster in plan.of_type(CLUSTER):
        with plan.checking(f"cluster {cluster.name}: vpcConfig"):
            # Only the three endpoint fields: the rest of vpcConfig (the cluster security group, the VPC id) is
            # unknown in a first preview, and the endpoint settings are known then.
            vpc = mapping(known_object(cluster.props.get("vpcConfig"), "vpcConfig"))
            # EKS's defaults (CreateCluster resourcesVpcConfig): public on, private off, public to 0.0.0.0/0.
            public = known(vpc.get("endpointPublicAccess"), "endpointPublicAccess") is not False
            cidrs = known(vpc.get("publicAccessCidrs"), "publicAccessCidrs") or [ANYWHERE]
            if public and ANYWHERE in cidrs:
                yield Violation(f"cluster {cluster.name}: the Kubernetes API endpoint is public to {ANYWHERE}; "
                                "list your egress addresses (apiPublicAccessCidrs) or keep it private", cluster.urn)
            if known(vpc.get("endpointPrivateAccess"), "endpointPrivateAccess") is not True:
                yield Violation(f"cluster {cluster.name}: the private endpoint is off, so the nodes and pods reach "
                                "the API over the internet through the NAT gateway", cluster.urn)


def _vpc_cidr(plan: Plan) -> ipaddress.IPv4Network | None:
    vpcs = plan.of_type(VPC)
    if len(vpcs) != 1:
        return None
    return ipaddress.ip_network(known(vpcs[0].props.get("cidrBlock"), "the VPC's cidrBlock"))


def _wider_than(ranges: list[str], network: ipaddress.IPv4Network) -> list[str]:
    return [r for r in ranges if not ipaddress.ip_network(r, strict=False).subnet_of(network)]


@stack_rule("load-balancer-exposure", "No internet-facing load balancer serves plain text; an internal NLB admits "
                                      "the VPC only",
            level=ADVISORY,
            why="An internet-facing ALB without a certificate, or NLB without a TLS listener, carries the app's "
                "traffic in clear text across the internet (CIS EKS 5.4.5); a stack may accept that on purpose "
                "(ingress.allowHttp, appLoadBalancer.allowHttp: the dev stack's ALB does), and so may an internal "
                "NLB's sourceRanges reach beyond the VPC. Advisory, like the preview's warning.")
def check_load_balancers(plan: Plan, config: dict):
    objects = plan.registered_objects()
    for ing in alb.alb_ingresses(plan.known_objects([o for o in objects if o.get("kind") in ("IngressClass",
                                                                                             "Ingress")])):
        meta = ing["metadata"]
        annotations = meta.get("annotations") or {}
        if annotations.get("alb.ingress.kubernetes.io/scheme", "internal") != "internet-facing":
            continue
        ports = {proto: port for proto, port in alb.listeners(ing)}
        who = f"Ingress {meta.get('namespace', 'default')}/{meta['name']}"
        if "HTTPS" not in ports:
            yield f"{who}: its internet-facing ALB serves plain HTTP on port {ports.get('HTTP', 80)} (no certificate)"
        elif "HTTP" in ports and not annotations.get("alb.ingress.kubernetes.io/ssl-redirect"):
            yield (f"{who}: its internet-facing ALB serves plain HTTP on port {ports['HTTP']} next to HTTPS "
                   "(no ssl-redirect)")
    services = [o for o in objects if o.get("kind") == "Service"]
    for svc in plan.known_objects(services):
        spec, meta = svc.get("spec") or {}, svc["metadata"]
        if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass") != NLB_CLASS:
            continue
        annotations = meta.get("annotations") or {}
        who = f"Service {meta.get('namespace', 'default')}/{meta['name']}"
        # The controller reads spec.loadBalancerSourceRanges, else the source-ranges annotation; with neither,
        # the NLB's security group admits 0.0.0.0/0 (model_build_managed_sg.go buildCIDRsFromSourceRanges; some
        # releases give an internal NLB its VPC's CIDRs instead: aws-load-balancer-controller#3706, #3996).
        ranges = list(spec.get("loadBalancerSourceRanges") or []) or \
            [r.strip() for r in annotations.get(SOURCE_RANGES, "").split(",") if r.strip()]
        if annotations.get(_NLB + "scheme", "internal") == "internet-facing":
            if not annotations.get(_NLB + "ssl-cert"):
                yield (f"{who}: its internet-facing NLB serves plain TCP on ports "
                       f"{sorted(p.get('port') for p in spec.get('ports') or [])} to {ranges or [ANYWHERE]} (no TLS)")
            continue
        if not ranges:
            yield (f"{who}: its internal NLB has no loadBalancerSourceRanges: the controller may open its security "
                   f"group to {ANYWHERE} (aws-load-balancer-controller#3706)")
            continue
        with plan.checking(f"{who}: its source ranges"):
            vpc = _vpc_cidr(plan)
            wider = _wider_than(ranges, vpc) if vpc else []
            if wider:
                yield f"{who}: its internal NLB admits {wider}, beyond the VPC {vpc} (loadBalancerSourceRanges)"
