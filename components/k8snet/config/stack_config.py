"""The stack configuration contract: schema, parsing and validation.

``parse_config`` is pure (plain values in, ``StackConfig`` out) and reports every bad
input at once in one ``ConfigError``, each line naming the key and the fix.
``load_stack_config`` is the thin Pulumi-facing reader used by ``__main__.py``.
Zone names are only known after the availability-zone lookup, so they are checked
by ``k8snet.config.zones`` -- still before any resource is registered.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Network
from types import MappingProxyType
from typing import Any

from ..app import load_balancer as app_load_balancer
from ..app import manifests as app_manifests
from ..app.load_balancer import LoadBalancerSettings
from ..cluster import access, addon_versions, kube_proxy
from ..cluster.access import KubeconfigIdentity
from ..dns import settings as dns_config
from ..dns.corefile import CorednsSettings
from ..ingress import settings as ingress_settings
from ..network import addressing, routing
from ..shared import log_groups
from .errors import ConfigError

NAMESPACE = "k8s-networking"


@dataclass(frozen=True)
class ConfigKey:
    type: str  # "string" | "integer" | "boolean" | "object" (Pulumi.yaml can type all but objects)
    default: Any
    description: str


DEFAULT_NODES = {"node1": {"index": 1}, "node2": {"index": 2}, "node3": {"index": 3}}

# Single source of truth: Pulumi.yaml, the README table and the parser agree with this
# (tests/test_project_files.py checks Pulumi.yaml against it).
SCHEMA: dict[str, ConfigKey] = {
    "clusterName": ConfigKey("string", "", "EKS cluster name; empty means k8snet-<stack>."),
    "kubernetesVersion": ConfigKey("string", "1.35", "Kubernetes minor version of the cluster and of the node AMI."),
    "vpcCidr": ConfigKey("string", "192.168.0.0/16", "VPC CIDR; node subnets are its /24s (192.168.1.0/24, ...)."),
    "availabilityZones": ConfigKey("integer", 2, "How many availability zones to use (at least 2)."),
    "natGateways": ConfigKey("string", "perAz", "NAT gateways for node egress: 'single' or 'perAz'."),
    "podCidr": ConfigKey("string", "10.1.0.0/16", "Pod address space; node N owns its N-th block."),
    "nodePodCidrPrefix": ConfigKey("integer", 24, "Prefix length of each node's pod block (24 -> 10.1.N.0/24)."),
    "serviceCidr": ConfigKey("string", "10.100.0.0/16", "Kubernetes service CIDR (RFC 1918, /12 to /24; EKS rule)."),
    "nodes": ConfigKey(
        "object",
        DEFAULT_NODES,
        "Map of stable node name -> {index, zone?, instanceType?}; index N owns pod block N.",
    ),
    "instanceType": ConfigKey("string", "t3.medium", "Default EC2 instance type of worker nodes."),
    "cni": ConfigKey("string", "calico", "Pod networking: 'calico' or 'flannel'."),
    "encapsulation": ConfigKey(
        "string", "none", "'none' (VPC routes carry pod traffic), 'vxlan', or 'ipip' (calico only)."
    ),
    "routeTableQuota": ConfigKey(
        "integer", routing.DEFAULT_ROUTE_QUOTA, "Your account's 'Routes per route table' quota (L-93826ACB)."
    ),
    "apiPublicAccessCidrs": ConfigKey(
        "array", [],
        "CIDRs allowed to the public API endpoint (still IAM-authenticated); [] = private endpoint only.",
    ),
    "kubeProxyMode": ConfigKey("string", "iptables", "kube-proxy mode of the EKS add-on: 'iptables' or 'ipvs'."),
    # Cluster DNS (k8snet/dns/corefile.py, k8snet/dns/settings.py, docs/dns.md).
    "coredns": ConfigKey("object", {}, "CoreDNS: {hosts: [{ip, names}], stubDomains: {domain: [IPs]}, cacheSeconds}."),
    "nodeLocalDns": ConfigKey("boolean", False, "NodeLocal DNSCache on every node (kubelet clusterDNS changes in ipvs mode)."),
    # The example app (k8snet/app/example_app.py, docs/app.md).
    "appNamespace": ConfigKey("string", "webapp", "Namespace of the example app (webapp + MySQL)."),
    "appNodePort": ConfigKey("integer", 30080, "NodePort of the webapp's NodePort Service (30000-32767)."),
    "externalNames": ConfigKey("object", {}, "Map of Service name -> external DNS name (ExternalName Services)."),
    "networkPolicy": ConfigKey("boolean", True, "Default-deny NetworkPolicies for the app namespace, with the app's flows allowed."),
    "retainData": ConfigKey("boolean", True, "Keep MySQL's volume, StatefulSet, StorageClass and namespace on destroy."),
    # The ALB Ingress (k8snet/ingress/alb_ingress.py, docs/ingress.md).
    "ingress": ConfigKey(
        "object", {},
        "The webapp's ALB Ingress: {enabled?, host?, paths?, certificateArn?, healthCheckPath?, allowHttp?, "
        "accessLogs?, wafAclArn?}.",
    ),
    # Security (issue 13; docs/security.md): exposure, access, detection and retention.
    "appLoadBalancer": ConfigKey(
        "object", {}, "The webapp's NLB: {public?, certificateArn?, sourceRanges?, allowHttp?}; internal by default."),
    "adminPrincipalArns": ConfigKey(
        "array", [], "IAM roles/users made cluster admins by access entry; given any, the creator gets no bootstrap admin."),
    "deletionProtection": ConfigKey("boolean", True, "EKS deletion protection: the cluster cannot be deleted until it is off."),
    "logRetentionDays": ConfigKey("integer", 365, "Retention of control-plane and VPC flow logs (a CloudWatch Logs value)."),
    "vpcFlowLogs": ConfigKey("boolean", True, "VPC flow logs (all traffic) to a KMS-encrypted CloudWatch log group."),
}

CNIS = ("calico", "flannel")
ENCAPSULATIONS = ("none", "vxlan", "ipip")
NAT_MODES = ("single", "perAz")
NODE_KEYS = ("index", "zone", "instanceType")

# Ranges a pod CIDR must not touch. Calico's IPPool validation refuses link-local pools (libcalico-go
# lib/validator/v3/validator.go, overlapsV4LinkLocal), where AWS also keeps the instance metadata service
# and the VPC resolver (169.254.169.254/.253) and NodeLocal DNSCache listens (169.254.20.10); the kernel
# treats loopback, "this network", multicast and the reserved class E as martians and never routes them.
RESERVED_RANGES = tuple((ipaddress.ip_network(cidr), why) for cidr, why in (
    ("169.254.0.0/16", "link-local (Calico refuses it; the metadata service, VPC DNS and node-local-dns live there)"),
    ("127.0.0.0/8", "loopback (never routed off a host)"),
    ("0.0.0.0/8", "'this network' (not a routable source)"),
    ("224.0.0.0/4", "multicast (not unicast pod addresses)"),
    ("240.0.0.0/4", "reserved (class E, dropped by Linux)"),
))


def _stack_namespaces() -> dict[str, str]:
    """Namespaces the stack's own components install into or their operators create: not the app's."""
    from ..cni import calico, flannel

    return {
        calico.NAMESPACE: "where the Calico operator runs (tigera-operator chart)",
        "calico-system": "where the Calico operator installs calico-node, Typha and the kube-controllers",
        "calico-apiserver": "the Calico API server's namespace in operator installs",
        flannel.NAMESPACE: "where flannel runs",
    }


# Kubernetes label values and DNS labels; node names become both.
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# EKS: 1-100 characters, starting with a letter or digit, then letters, digits, hyphens, underscores.
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_K8S_VERSION = re.compile(r"^1\.(\d{2})$")
_ZONE = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-?[0-9][a-z]$")
# Kubernetes name rules: DNS-1123 label (namespaces), DNS-1035 label (Services), DNS-1123 subdomain.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class NodeSpec:
    name: str
    index: int
    zone: str | None  # an availability-zone name, or None for the default round-robin zone
    instance_type: str


@dataclass(frozen=True)
class StackConfig:
    stack: str
    cluster_name: str
    kubernetes_version: str
    vpc_cidr: IPv4Network
    availability_zones: int
    nat_gateways: str
    pod_cidr: IPv4Network
    node_pod_cidr_prefix: int
    service_cidr: IPv4Network
    nodes: tuple[NodeSpec, ...]  # sorted by name
    instance_type: str
    cni: str
    encapsulation: str
    route_table_quota: int
    app_namespace: str
    app_node_port: int
    external_names: Mapping[str, str]  # Service name -> external DNS name
    network_policy: bool
    retain_data: bool
    api_public_access_cidrs: tuple[str, ...] = ()
    kube_proxy_mode: str = "iptables"
    ingress: ingress_settings.IngressSettings = ingress_settings.IngressSettings()
    coredns: CorednsSettings = CorednsSettings()
    node_local_dns: bool = False
    app_load_balancer: LoadBalancerSettings = LoadBalancerSettings()
    admin_principal_arns: tuple[str, ...] = ()
    deletion_protection: bool = True
    log_retention_days: int = 365
    vpc_flow_logs: bool = True
    kubeconfig_identity: KubeconfigIdentity = KubeconfigIdentity()  # from aws:profile / aws:assumeRoles

    @cached_property
    def pod_blocks(self) -> Mapping[str, IPv4Network]:
        """node name -> its pod block; made once (read per node: recomputed, it was quadratic in the nodes, ~3 s of a
        1,000-node preview) and read-only, as the config is."""
        return MappingProxyType({n.name: addressing.node_pod_block(self.pod_cidr, self.node_pod_cidr_prefix, n.index)
                                 for n in self.nodes})

    @property
    def pod_routes(self) -> bool:
        return routing.pod_routes_needed(self.encapsulation)


def default_cluster_name(stack: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", stack).strip("-_") or "stack"
    return f"k8snet-{cleaned}"[:100]


def _suggest(word: str, choices) -> str | None:
    """The closest known name, ignoring case (podCIDR -> podCidr)."""
    by_lower = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(str(word).lower(), by_lower, n=1)
    return by_lower[match[0]] if match else None


class _Problems(list):
    def add(self, key: str, message: str) -> None:
        self.append(f"{key}: {message}")


_INVALID = object()


def _structured(key: str, raw: Any, message: str, problems: _Problems) -> Any:
    """Lists and maps arrive as JSON text from the CLI (as data in-process)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.add(key, message.format(exc.msg))
        return _INVALID


def _coerce(key: str, raw: Any, problems: _Problems) -> Any:
    """Turn a raw config value (Pulumi hands over strings; objects as JSON) into the schema type."""
    kind = SCHEMA[key].type
    if kind == "integer":
        if isinstance(raw, bool):
            problems.add(key, f"expected a whole number, got {raw!r}")
            return None
        try:
            value = int(raw)
            if isinstance(raw, float) and raw != value:
                raise ValueError
            return value
        except (TypeError, ValueError):
            problems.add(key, f"expected a whole number, got {raw!r}")
            return None
    if kind == "array":
        raw = _structured(key, raw, "is not a valid list ({}); set it as a YAML list in the stack file", problems)
        if raw is _INVALID:
            return None
        if raw is None:  # `key:` with nothing after it reaches the program as JSON null
            problems.add(key, "is empty (null); give a list, or [] for none")
            return None
        if not isinstance(raw, list):
            problems.add(key, f"expected a list, got {type(raw).__name__}")
            return None
        return raw
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        problems.add(key, f"expected true or false, got {raw!r}")
        return None
    if kind == "object":
        raw = _structured(key, raw, "is not valid JSON/YAML object ({}); set it as a map in the stack file", problems)
        if raw is _INVALID:
            return None
        if raw is None:  # `nodes:` with nothing under it reaches the program as JSON null
            example = {"nodes": "at least one node is required, e.g. {node1: {index: 1}}"}.get(key, "give a map, or {} for none")
            problems.add(key, f"is empty (null); {example}")
            return None
        if not isinstance(raw, dict):
            what = {"nodes": "node name -> settings", "coredns": "hosts / stubDomains / cacheSeconds"}.get(key, "name -> value")
            problems.add(key, f"expected a map of {what}, got {type(raw).__name__}")
            return None
        return raw
    if not isinstance(raw, str):
        problems.add(key, f"expected a string, got {raw!r}")
        return None
    return raw


def _cidr(key: str, value: str | None, problems: _Problems) -> IPv4Network | None:
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        problems.add(key, f"{value!r} is not a CIDR; write it like 10.1.0.0/16")
        return None
    if net.version != 4:
        problems.add(key, f"{value!r} is IPv6; this project plans IPv4 only")
        return None
    if str(net) != value.strip():
        problems.add(key, f"{value!r} has host bits set; did you mean {net}?")
        return None
    return net


def _choice(key: str, value: str | None, allowed: tuple[str, ...], problems: _Problems) -> str | None:
    if value is not None and value not in allowed:
        problems.add(key, f"{value!r} is not one of {', '.join(allowed)}")
        return None
    return value


def _parse_nodes(raw: dict, default_type: str | None, problems: _Problems) -> list[NodeSpec]:
    nodes = []
    if not raw:
        problems.add("nodes", "at least one node is required, e.g. {node1: {index: 1}}")
    for name in sorted(raw):
        spec = raw[name]
        key = f"nodes.{name}"
        if not _NODE_NAME.match(str(name)):
            problems.add(key, "node names must be lowercase DNS labels (a-z, 0-9, '-'), at most 63 characters")
            continue
        if str(name).isdigit():
            # YAML reads `1:` as a number and Pulumi passes it on as the text "1": almost surely not meant.
            problems.add(key, f"a node name must not be a bare number; name it like node{name} (node N owns pod block "
                         "N through its index, not its name)")
            continue
        if not isinstance(spec, dict):
            problems.add(key, "expected a map like {index: 1, zone: us-east-1a, instanceType: t3.medium}")
            continue
        for unknown in sorted(set(spec) - set(NODE_KEYS)):
            hint = _suggest(unknown, NODE_KEYS)
            problems.add(f"{key}.{unknown}", "unknown setting" + (f"; did you mean {hint}?" if hint else f"; use {', '.join(NODE_KEYS)}"))
        index = spec.get("index")
        if isinstance(index, bool) or not isinstance(index, (int, float)) or int(index) != index:
            problems.add(f"{key}.index", f"required whole number >= 1 (node N owns pod block N), got {index!r}")
            continue
        zone = spec.get("zone")
        if zone is not None and (not isinstance(zone, str) or not _ZONE.match(zone)):
            problems.add(f"{key}.zone", f"{zone!r} is not an availability-zone name like us-east-1a")
            zone = None
        itype = spec.get("instanceType", default_type)
        if "instanceType" in spec and itype is None:
            problems.add(f"{key}.instanceType", "is empty (null); remove the line to use the stack's instanceType, "
                         "or name a type like t3.medium")
            continue
        if itype is not None and (not isinstance(itype, str) or not _INSTANCE_TYPE.match(itype)):
            problems.add(f"{key}.instanceType", f"{itype!r} is not an EC2 instance type like t3.medium")
            itype = None
        nodes.append(NodeSpec(str(name), int(index), zone, itype or ""))
    return nodes


def parse_config(raw: Mapping[str, Any], stack: str, aws_settings: Mapping[str, Any] | None = None) -> StackConfig:
    """Validate raw config values (missing keys take schema defaults) into a StackConfig.

    ``aws_settings``: the stack's ``aws:profile`` / ``aws:assumeRoles`` (the kubeconfig's identity).
    Raises ConfigError listing every problem; nothing else may raise for bad input.
    """
    problems = _Problems()
    for unknown in sorted(set(raw) - set(SCHEMA)):
        hint = _suggest(unknown, SCHEMA)
        problems.add(
            f"{NAMESPACE}:{unknown}",
            "unknown config key" + (f"; did you mean {hint}?" if hint else "; see the README's config reference"),
        )
    values = {key: _coerce(key, raw[key], problems) if key in raw else spec.default for key, spec in SCHEMA.items()}

    cluster_name = values["clusterName"] or default_cluster_name(stack)
    if values["clusterName"] is not None and not _CLUSTER_NAME.match(cluster_name):
        problems.add("clusterName", "1-100 letters, digits, '-' or '_', starting with a letter or digit (EKS rule)")

    version = values["kubernetesVersion"]
    if version is not None and not _K8S_VERSION.match(version):
        problems.add("kubernetesVersion", f"{version!r} is not a Kubernetes minor version like 1.35")

    vpc = _cidr("vpcCidr", values["vpcCidr"], problems)
    pod = _cidr("podCidr", values["podCidr"], problems)
    svc = _cidr("serviceCidr", values["serviceCidr"], problems)

    zones = values["availabilityZones"]
    if zones is not None and zones < 2:
        problems.add("availabilityZones", f"{zones} is too few; EKS and the ALB need subnets in at least 2 zones")
    if vpc is not None:
        if not 16 <= vpc.prefixlen <= 28:
            problems.add("vpcCidr", f"a VPC CIDR must be /16 to /28 (AWS rule), got /{vpc.prefixlen}")
        elif zones is not None and zones > addressing.max_zones(vpc):
            problems.add(
                "vpcCidr",
                f"{vpc} fits {addressing.max_zones(vpc)} zones of /24 private+public subnets, "
                f"not {zones}; use a larger VPC (e.g. /16) or fewer availabilityZones",
            )

    nat = _choice("natGateways", values["natGateways"], NAT_MODES, problems)
    cni = _choice("cni", values["cni"], CNIS, problems)
    encap = _choice("encapsulation", values["encapsulation"], ENCAPSULATIONS, problems)
    if cni == "flannel" and encap == "ipip":
        problems.add("encapsulation", "flannel has no IPIP backend; use 'vxlan' or 'none' with flannel, or cni 'calico'")

    prefix = values["nodePodCidrPrefix"]
    if pod is not None and prefix is not None:
        if prefix <= pod.prefixlen:
            problems.add(
                "nodePodCidrPrefix",
                f"/{prefix} must be longer than podCidr's /{pod.prefixlen} so each node gets a block of it",
            )
            prefix = None
        elif prefix > 28:
            problems.add("nodePodCidrPrefix", f"/{prefix} leaves too few pod addresses per node; use /28 or shorter")
            prefix = None

    if cni == "calico" and prefix is not None and not 20 <= prefix <= 32:
        problems.add("nodePodCidrPrefix", f"/{prefix}: Calico's IPPool blockSize must be 20..32 (one block per node)")
    if pod is not None:
        for reserved, why in RESERVED_RANGES:
            if pod.overlaps(reserved):
                problems.add("podCidr", f"{pod} overlaps {reserved}, {why}; pick a private range such as 10.1.0.0/16")
    if pod is not None and vpc is not None and pod.overlaps(vpc):
        problems.add("podCidr", f"{pod} overlaps vpcCidr {vpc}; pick a pod range outside the VPC (e.g. 10.1.0.0/16)")
    if pod is not None and svc is not None and pod.overlaps(svc):
        problems.add("podCidr", f"{pod} overlaps serviceCidr {svc}; the two ranges must be disjoint")
    if svc is not None:
        if not addressing.is_rfc1918(svc):
            problems.add("serviceCidr", f"{svc} is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (EKS rule)")
        if not 12 <= svc.prefixlen <= 24:
            problems.add("serviceCidr", f"/{svc.prefixlen} is outside /12../24 (EKS rule)")
        if vpc is not None and svc.overlaps(vpc):
            problems.add("serviceCidr", f"{svc} overlaps vpcCidr {vpc}; EKS requires them disjoint")

    itype = values["instanceType"]
    if itype is not None and not _INSTANCE_TYPE.match(itype):
        problems.add("instanceType", f"{itype!r} is not an EC2 instance type like t3.medium")

    nodes = _parse_nodes(values["nodes"], itype, problems) if values["nodes"] is not None else []
    by_index: dict[int, str] = {}
    for node in nodes:
        if node.index < 1:
            problems.add(f"nodes.{node.name}.index", f"{node.index} is below 1; node N owns pod block N, starting at 1")
        elif pod is not None and prefix is not None and node.index > addressing.node_capacity(pod, prefix):
            problems.add(
                f"nodes.{node.name}.index",
                f"{node.index} is beyond the {addressing.node_capacity(pod, prefix)} /{prefix} blocks of {pod}; "
                "use a larger podCidr or a longer nodePodCidrPrefix",
            )
        if node.index in by_index:
            problems.add(
                f"nodes.{node.name}.index",
                f"{node.index} is already node {by_index[node.index]}'s; every node needs its own index",
            )
        by_index.setdefault(node.index, node.name)

    quota = values["routeTableQuota"]
    if quota is not None:
        if not 1 <= quota <= routing.MAX_ROUTE_QUOTA:
            problems.add("routeTableQuota", f"{quota} is outside 1..{routing.MAX_ROUTE_QUOTA} (AWS maximum)")
        elif encap is not None:
            needed = routing.routes_per_private_table(len(nodes), encap)
            if needed > quota:
                problems.add(
                    "routeTableQuota",
                    f"each private route table would hold {needed} routes (local + NAT default + "
                    f"{len(nodes)} pod routes) but the quota is {quota}. Either raise the 'Routes per route table' "
                    f"quota (Service Quotas code {routing.ROUTE_QUOTA_CODE}, up to {routing.MAX_ROUTE_QUOTA}) and set "
                    "routeTableQuota to it, or set encapsulation to 'vxlan' (or 'ipip' with calico), which needs no "
                    "pod routes",
                )

    public_cidrs = []
    for i, cidr in enumerate(values["apiPublicAccessCidrs"] or []):
        net = _cidr(f"apiPublicAccessCidrs[{i}]", cidr if isinstance(cidr, str) else repr(cidr), problems)
        if net is not None:
            public_cidrs.append(str(net))

    proxy_mode = values["kubeProxyMode"]
    if proxy_mode is not None and version is not None:
        why = kube_proxy.mode_problem(proxy_mode, version)
        if why:
            problems.add("kubeProxyMode", f"{proxy_mode!r}: {why}")
    if version is not None and _K8S_VERSION.match(version) and version not in addon_versions.VERSIONS:
        problems.add("kubernetesVersion", f"{version} has no pinned EKS add-on versions; use one of "
                     f"{', '.join(sorted(addon_versions.VERSIONS))} (or pin them in k8snet/cluster/addon_versions.py)")
    app_ns, node_port, external = _parse_app(values, problems)
    ingress = ingress_settings.parse_settings(values["ingress"], problems.add)
    coredns = dns_config.parse(values["coredns"], pod, svc, problems.add)
    app_lb = app_load_balancer.parse(values["appLoadBalancer"], problems.add)
    admins = access.parse_admin_principals(values["adminPrincipalArns"], problems.add)
    retention = values["logRetentionDays"]
    if retention is not None and (why := log_groups.retention_problem(retention)):
        problems.add("logRetentionDays", why)
    identity = access.parse_identity(aws_settings.get("aws:profile"), aws_settings.get("aws:assumeRoles"),
                                     problems.add) if aws_settings else access.KubeconfigIdentity()

    if problems:
        raise ConfigError(problems)
    return StackConfig(
        stack=stack,
        cluster_name=cluster_name,
        kubernetes_version=version,
        vpc_cidr=vpc,
        availability_zones=zones,
        nat_gateways=nat,
        pod_cidr=pod,
        node_pod_cidr_prefix=prefix,
        service_cidr=svc,
        nodes=tuple(nodes),
        instance_type=itype,
        cni=cni,
        encapsulation=encap,
        route_table_quota=quota,
        api_public_access_cidrs=tuple(public_cidrs),
        kube_proxy_mode=proxy_mode,
        app_namespace=app_ns,
        app_node_port=node_port,
        external_names=external,
        network_policy=values["networkPolicy"],
        retain_data=values["retainData"],
        ingress=ingress,
        coredns=coredns,
        node_local_dns=values["nodeLocalDns"],
        app_load_balancer=app_lb,
        admin_principal_arns=admins,
        deletion_protection=values["deletionProtection"],
        log_retention_days=retention,
        vpc_flow_logs=values["vpcFlowLogs"],
        kubeconfig_identity=identity,
    )


def _parse_app(values: dict, problems: _Problems) -> tuple[str, int, dict[str, str]]:
    """The example app's keys: its namespace, the NodePort and the ExternalName map."""
    stack_namespaces = _stack_namespaces()
    ns = values["appNamespace"]
    if ns is not None and (not _DNS_LABEL.match(ns) or ns == "default" or ns.startswith("kube-")):
        problems.add("appNamespace", f"{ns!r} must be a lowercase DNS label (a-z, 0-9, '-', at most 63) of its own, "
                     "not 'default' or a kube-* system namespace")
    elif ns in stack_namespaces:
        problems.add("appNamespace", f"{ns!r} is {stack_namespaces[ns]}; the app needs a namespace of its own "
                     "(its default-deny policies and retained namespace would hit that component), e.g. webapp")
    port = values["appNodePort"]
    low, high = app_manifests.NODE_PORT_RANGE
    if port is not None and not low <= port <= high:
        problems.add("appNodePort", f"{port} is outside the NodePort range {low}-{high} (kube-apiserver default)")
    external = {}
    for name, target in sorted((values["externalNames"] or {}).items()):
        key = f"externalNames.{name}"
        if not _SERVICE_NAME.match(str(name)):
            problems.add(key, "Service names start with a letter, then a-z, 0-9 or '-' (at most 63; DNS-1035 label)")
        elif name in app_manifests.SERVICE_NAMES.values():
            problems.add(key, f"{name!r} is one of the app's own Services; pick another name")
        elif not isinstance(target, str) or not _DNS_NAME.match(target):
            problems.add(key, f"{target!r} is not a lowercase DNS name like api.example.com")
        elif re.fullmatch(r"[0-9.]+", target):
            problems.add(key, f"{target!r} is an IP address; an ExternalName is a DNS name (Kubernetes would treat "
                         "the digits as a host name)")
        else:
            external[str(name)] = target
    return ns, port, external


def parse_program_config(values: Mapping[str, Any], stack: str) -> StackConfig:
    """``parse_config`` over config as a program receives it: every ``namespace:key`` -> value (strings;
    maps and lists as JSON text). Keys of other namespaces (``aws:region``) are ignored."""
    prefix = f"{NAMESPACE}:"
    aws_settings = {k: v for k, v in values.items() if k in ("aws:profile", "aws:assumeRoles")}
    return parse_config({k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}, stack, aws_settings)


def load_stack_config() -> StackConfig:
    """Read this project's config from the running Pulumi program and validate it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # Every key set in our namespace, so a typo ("podCIDR") is an error, not a silent default.
    # The CLI hands config over in PULUMI_CONFIG; the in-process engine sets it directly.
    return parse_program_config({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()},
                                pulumi.get_stack())
