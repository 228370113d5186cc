"""KubernetesNetworking: the documents' whole example from one set of args, for stacks that want all of it.

The args are the stack settings of README's configuration reference (``clusterName`` ... ``ingress``), in
snake_case for Python; they are validated by the same parser as the project's stack config, every problem
reported at once before any resource. ``region`` defaults to the AWS provider's.
"""

import re
from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from ..shared.args import checked
from ..config import lookup_plan, parse_config
from .wiring import deploy


class NodeArgs(TypedDict):
    index: int
    """Node N owns pod block N (10.1.N.0/24); unique, from 1."""
    zone: NotRequired[str]
    """Availability zone (default: round robin on the index)."""
    instance_type: NotRequired[str]
    """EC2 instance type (default: the instance_type arg)."""


class HostEntryArgs(TypedDict):
    ip: str
    """Address the names resolve to."""
    names: list[str]
    """Names answered by CoreDNS's hosts plugin."""


class CorednsArgs(TypedDict):
    hosts: NotRequired[list[HostEntryArgs]]
    """Hosts entries, answered before the kubernetes plugin, with fallthrough."""
    stub_domains: NotRequired[dict[str, list[str]]]
    """Domain -> upstream IPv4 addresses, one server block each."""
    cache_seconds: NotRequired[int]
    """The cache cap, 1-3600 (default 30)."""


class IngressArgs(TypedDict):
    enabled: NotRequired[bool]
    """The webapp's ALB Ingress (default true)."""
    host: NotRequired[str]
    """Host header to match (default any)."""
    paths: NotRequired[list[str]]
    """Path prefixes (default ["/"])."""
    certificate_arn: NotRequired[str]
    """ACM certificate in the stack's region: HTTPS on 443, 80 redirects."""
    health_check_path: NotRequired[str]
    """The ALB's health check path (default /healthz)."""
    allow_http: NotRequired[bool]
    """Internet-facing over plain HTTP without a certificate (default false: internal without one)."""
    access_logs: NotRequired[bool]
    """Access logs to an S3 bucket the stack creates (default true)."""
    waf_acl_arn: NotRequired[str]
    """A regional WAFv2 web ACL for the ALB."""


class AppLoadBalancerArgs(TypedDict):
    public: NotRequired[bool]
    """Internet-facing NLB (default false: internal, from the VPC)."""
    certificate_arn: NotRequired[str]
    """ACM certificate: TLS on 443."""
    source_ranges: NotRequired[list[str]]
    """CIDRs allowed to connect (default: the VPC; public: 0.0.0.0/0)."""
    allow_http: NotRequired[bool]
    """Accept a public NLB without a certificate."""


class KubernetesNetworkingArgs(TypedDict):
    region: NotRequired[str]
    """AWS region (default: the AWS provider's)."""
    cluster_name: NotRequired[str]
    """EKS cluster name (default k8snet-<stack>)."""
    kubernetes_version: NotRequired[str]
    """Kubernetes minor version (default 1.35)."""
    vpc_cidr: NotRequired[str]
    """VPC CIDR (default 192.168.0.0/16)."""
    availability_zones: NotRequired[int]
    """How many zones (default 2, at least 2)."""
    nat_gateways: NotRequired[str]
    """'perAz' (default) or 'single'."""
    pod_cidr: NotRequired[str]
    """Pod address space (default 10.1.0.0/16)."""
    node_pod_cidr_prefix: NotRequired[int]
    """Prefix of each node's pod block (default 24)."""
    service_cidr: NotRequired[str]
    """Service CIDR (default 10.100.0.0/16)."""
    nodes: NotRequired[dict[str, NodeArgs]]
    """Stable node name -> settings (default node1..node3 with index 1..3)."""
    instance_type: NotRequired[str]
    """Default instance type (default t3.medium)."""
    cni: NotRequired[str]
    """'calico' (default) or 'flannel'."""
    encapsulation: NotRequired[str]
    """'none' (default: VPC routes carry pod traffic), 'vxlan' or 'ipip' (calico only)."""
    route_table_quota: NotRequired[int]
    """Your account's 'Routes per route table' quota (default 50)."""
    api_public_access_cidrs: NotRequired[list[str]]
    """CIDRs allowed to the public API endpoint."""
    kube_proxy_mode: NotRequired[str]
    """'iptables' (default) or 'ipvs'."""
    coredns: NotRequired[CorednsArgs]
    """CoreDNS hosts entries, stub domains and cache cap."""
    node_local_dns: NotRequired[bool]
    """NodeLocal DNSCache on every node (default false)."""
    app_namespace: NotRequired[str]
    """Namespace of the example app (default webapp)."""
    app_node_port: NotRequired[int]
    """NodePort of the webapp (default 30080)."""
    external_names: NotRequired[dict[str, str]]
    """Service name -> external DNS name (ExternalName Services)."""
    network_policy: NotRequired[bool]
    """Default-deny NetworkPolicies with the app's flows allowed (default true)."""
    retain_data: NotRequired[bool]
    """Keep MySQL's data on destroy (default true)."""
    ingress: NotRequired[IngressArgs]
    """The webapp's ALB Ingress."""
    app_load_balancer: NotRequired[AppLoadBalancerArgs]
    """The webapp's NLB (default: internal)."""
    admin_principal_arns: NotRequired[list[str]]
    """IAM roles/users made cluster admins by access entry (then no bootstrap admin for the creator)."""
    deletion_protection: NotRequired[bool]
    """EKS deletion protection (default true)."""
    log_retention_days: NotRequired[int]
    """Retention of control-plane, flow and access logs (default 365)."""
    vpc_flow_logs: NotRequired[bool]
    """VPC flow logs to a KMS-encrypted log group (default true)."""
    kubeconfig_profile: NotRequired[str]
    """AWS CLI profile for the kubeconfig's `aws eks get-token` (the provider's profile)."""
    kubeconfig_role_arn: NotRequired[str]
    """Role the kubeconfig's `aws eks get-token` assumes (the provider's assumed role)."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def stack_settings(args: KubernetesNetworkingArgs) -> dict[str, Any]:
    """The args as the stack config's keys (field names camelCased; map keys such as node names, domains
    and Service names kept as given)."""
    raw: dict[str, Any] = {}
    for key, value in args.items():
        if key in ("region", "kubeconfig_profile", "kubeconfig_role_arn") or value is None:
            continue
        if key == "nodes":
            value = {node: {_camel(k): v for k, v in spec.items()} for node, spec in value.items()}
        elif key in ("coredns", "ingress", "app_load_balancer"):
            value = {_camel(k): v for k, v in value.items()}
        raw[_camel(key)] = value
    return raw


class KubernetesNetworking(pulumi.ComponentResource):
    """The VPC with per-node pod routes, EKS with self-managed workers, Calico or Flannel, CoreDNS (and
    optionally NodeLocal DNSCache), the load balancer controller, the example app with Services of every
    type and NetworkPolicies, and its ALB Ingress. Children are named ``<name>-network``, ``<name>-cluster``...

    Outputs: what consumer stacks need and cannot rebuild (cluster endpoint, CA, OIDC issuer and provider,
    node role, security groups, region, kubeconfig) and the app's addresses."""

    region: str
    """The AWS region."""
    cluster_name: pulumi.Output[str]
    """The EKS cluster's name."""
    cluster_endpoint: pulumi.Output[str]
    """The API server endpoint."""
    cluster_certificate_authority: pulumi.Output[str]
    """The cluster CA, base64."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig using `aws eks get-token` (secret)."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider (IRSA for your own service accounts)."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS created for the cluster."""
    control_plane_security_group_id: pulumi.Output[str]
    """The extra control-plane security group (node rules reference it)."""
    node_role_arn: pulumi.Output[str]
    """The worker nodes' IAM role."""
    node_security_group_id: pulumi.Output[str]
    """The worker nodes' security group."""
    availability_zones: list[str]
    """The zones in use."""
    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    private_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> private subnet id."""
    public_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> public subnet id."""
    pod_route_table_ids: dict[str, pulumi.Output[str]]
    """Zone -> route table carrying the pod routes."""
    nodes: pulumi.Output[dict[str, dict[str, str]]]
    """Node name -> zone, podCidr, instanceId, privateIp, nodeName."""
    app_namespace: pulumi.Output[str]
    """The example app's namespace."""
    app_services: dict[str, str]
    """Service type -> Service name."""
    app_node_port: pulumi.Output[int]
    """The webapp's NodePort."""
    app_load_balancer_hostname: pulumi.Output[str]
    """The NLB's DNS name."""
    lb_controller_role_arn: pulumi.Output[str]
    """The load balancer controller's IRSA role."""
    alb_hostname: pulumi.Output[str]
    """The ALB's DNS name (empty without the Ingress)."""
    app_url: pulumi.Output[str]
    """The app's URL through the ALB."""

    def __init__(self, name: str, args: KubernetesNetworkingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, KubernetesNetworkingArgs)
        identity = {"aws:profile": args.get("kubeconfig_profile"),
                    "aws:assumeRoles": [{"roleArn": args["kubeconfig_role_arn"]}] if args.get("kubeconfig_role_arn") else []}
        # every problem, before any resource
        config = parse_config(stack_settings(args), pulumi.get_stack(), identity)
        super().__init__("k8snet:index:KubernetesNetworking", name, None, opts)
        region = args.get("region")
        if not region:
            import pulumi_aws as aws

            region = aws.get_region(opts=pulumi.InvokeOptions(parent=self)).name
        deployment = deploy(lookup_plan(config, region, parent=self), prefix=f"{name}-", parent=self)
        outputs = deployment.outputs()
        for key, value in outputs.items():
            setattr(self, _snake(key), value)
        self.register_outputs(outputs)
