"""EKS: clusters in moto's backend; access entries and add-ons (which moto 5.2.5 lacks) kept
here, with the checks EKS makes on create. What EKS offers (versions, add-ons, their configuration
schemas) is data in offline/aws/eks_catalog.py.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from typing import TYPE_CHECKING

from moto.eks.models import eks_backends

from .eks_catalog import ADDON_SCHEMAS, ADDON_VERSIONS, SUPPORTED_VERSIONS
from .iam import _iam, kms_key_exists
from .rules import AwsRejection

if TYPE_CHECKING:
    from .context import AwsContext

def _eks(ctx: AwsContext):
    return eks_backends[ctx.account_id][ctx.region]


def _hex(*parts: str, length: int = 32) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length].upper()


def cluster(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    cluster_name = inputs["name"]  # given, or the provider's auto-name (constraints.autonamed)
    version = inputs.get("version") or SUPPORTED_VERSIONS[-1]
    if version not in SUPPORTED_VERSIONS:
        raise AwsRejection("InvalidParameterException", f"unsupported Kubernetes version {version}")
    role_arn = inputs["roleArn"]
    if not any(r.arn == role_arn for r in _iam(ctx).roles.values()):
        raise AwsRejection("InvalidParameterException", f"Role with arn: {role_arn}, does not exist")
    vpc_cfg = inputs.get("vpcConfig") or {}
    subnets = [ctx.ec2.get_subnet(s) for s in vpc_cfg.get("subnetIds") or []]  # InvalidSubnetID.NotFound
    if len({s.availability_zone for s in subnets}) < 2:
        raise AwsRejection("InvalidParameterException",
                           "Subnets specified must be in at least two different AZs")
    vpc_ids = {s.vpc_id for s in subnets}
    if len(vpc_ids) != 1:
        raise AwsRejection("InvalidParameterException", "Subnets must all belong to one VPC")
    vpc_id = vpc_ids.pop()
    for sg_id in vpc_cfg.get("securityGroupIds") or []:
        sg = ctx.ec2.get_security_group_from_id(sg_id)
        if sg is None or sg.vpc_id != vpc_id:
            raise AwsRejection("InvalidParameterException", f"Security group {sg_id} is not in {vpc_id}")
    if not vpc_cfg.get("endpointPrivateAccess", False) and not vpc_cfg.get("endpointPublicAccess", True):
        raise AwsRejection("InvalidParameterException", "Private and public endpoint access cannot both be disabled")
    net_cfg = inputs.get("kubernetesNetworkConfig") or {}
    svc = net_cfg.get("serviceIpv4Cidr")
    if svc:
        svc_net = ipaddress.ip_network(svc)
        vpc = ctx.ec2.get_vpc(vpc_id)
        if svc_net.overlaps(ipaddress.ip_network(vpc.cidr_block)):
            raise AwsRejection("InvalidParameterException", f"serviceIpv4Cidr {svc} overlaps the VPC CIDR")
    for enc in inputs.get("encryptionConfig") and [inputs["encryptionConfig"]] or []:
        key_arn = (enc.get("provider") or {}).get("keyArn")
        if not key_arn or not kms_key_exists(ctx, key_arn):
            raise AwsRejection("InvalidParameterException", f"KMS key {key_arn} not found")
        if enc.get("resources") != ["secrets"]:
            raise AwsRejection("InvalidParameterException", "encryptionConfig resources must be ['secrets']")
    # Log types, authentication mode and other single-field rules: constraints.py.
    access = inputs.get("accessConfig") or {}
    mode = access.get("authenticationMode", "CONFIG_MAP")

    c = _eks(ctx).create_cluster(
        name=cluster_name, role_arn=role_arn, version=version,
        resources_vpc_config={"subnetIds": [s.id for s in subnets],
                               "securityGroupIds": list(vpc_cfg.get("securityGroupIds") or [])},
        kubernetes_network_config={"serviceIpv4Cidr": svc or "10.100.0.0/16"},
        tags=dict(inputs.get("tags") or {}),
    )
    # EKS creates and attaches a cluster security group of its own. Its default rules (EKS user guide, "View
    # Amazon EKS security group requirements for clusters"): all traffic in from itself, out to 0.0.0.0/0 (moto's
    # default egress rule) and out to itself (EFA).
    cluster_sg = ctx.ec2.create_security_group(f"eks-cluster-sg-{cluster_name}-{_hex(cluster_name, length=8)}",
                                               "EKS created security group", vpc_id)
    for authorize in (ctx.ec2.authorize_security_group_ingress, ctx.ec2.authorize_security_group_egress):
        authorize(cluster_sg.id, "-1", None, None, [], source_groups=[{"GroupId": cluster_sg.id}], vpc_id=vpc_id)
    # moto draws the OIDC id at import time and the CA at random: both are made stable here.
    issuer = f"https://oidc.eks.{ctx.region}.{ctx.dns_suffix}/id/{_hex('oidc', ctx.account_id, cluster_name)}"
    ca = base64.b64encode(f"offline CA of {cluster_name}".encode()).decode()
    c.identity = {"oidc": {"issuer": issuer}}
    c.endpoint = f"https://{_hex('endpoint', ctx.account_id, cluster_name)}.gr7.{ctx.region}.eks.{ctx.dns_suffix}"
    c.certificate_authority = {"data": ca}
    ctx.eks_clusters[cluster_name] = {"version": version, "authenticationMode": mode,
                                      "bootstrapSelfManagedAddons": inputs.get("bootstrapSelfManagedAddons", True),
                                      "serviceIpv4Cidr": svc or "10.100.0.0/16",
                                      "deletionProtection": bool(inputs.get("deletionProtection", False))}
    if access.get("bootstrapClusterCreatorAdminPermissions", True):
        # EKS makes the creator a cluster admin by an access entry of its own (user guide, "Grant IAM users
        # access to Kubernetes with EKS access entries": the creator's entry and its policy).
        ctx.eks_access_entries[(cluster_name, ctx.caller_principal)] = "STANDARD"
        ctx.eks_access_policies[(cluster_name, ctx.caller_principal)] = {CLUSTER_ADMIN: "cluster"}
    return cluster_name, {
        **inputs,
        "name": cluster_name,
        "arn": c.arn,
        "version": version,
        "endpoint": c.endpoint,
        "status": "ACTIVE",
        "platformVersion": "eks.1",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [{"issuer": issuer}]}],
        "vpcConfig": {**vpc_cfg, "vpcId": vpc_id, "clusterSecurityGroupId": cluster_sg.id},
        "kubernetesNetworkConfig": {**net_cfg, "serviceIpv4Cidr": svc or "10.100.0.0/16", "ipFamily": "ipv4"},
        "accessConfig": {**access, "authenticationMode": mode},
    }


def _require_cluster(ctx: AwsContext, cluster_name: str) -> dict:
    if cluster_name not in ctx.eks_clusters:
        raise AwsRejection("ResourceNotFoundException", f"No cluster found for name: {cluster_name}.")
    return ctx.eks_clusters[cluster_name]


def access_entry(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    cluster_name, principal = inputs["clusterName"], inputs["principalArn"]
    info = _require_cluster(ctx, cluster_name)
    if info["authenticationMode"] == "CONFIG_MAP":
        raise AwsRejection("InvalidRequestException", "The cluster's authentication mode must be set to one of "
                           "[API, API_AND_CONFIG_MAP] to perform this operation.")
    kind = inputs.get("type", "STANDARD")  # its values, and groups only for STANDARD: constraints.py
    iam = _iam(ctx)
    if not any(p.arn == principal for p in [*iam.roles.values(), *iam.users.values()]):
        raise AwsRejection("InvalidParameterException", f"The specified principalArn is invalid: {principal}")
    key = (cluster_name, principal)
    if key in ctx.eks_access_entries:
        raise AwsRejection("ResourceInUseException", "The specified access entry resource is already in use on this cluster.")
    ctx.eks_access_entries[key] = kind
    groups = ["system:nodes"] if kind == "EC2_LINUX" else list(inputs.get("kubernetesGroups") or [])
    return f"{cluster_name}:{principal}", {
        **inputs, "type": kind, "kubernetesGroups": groups,
        "userName": "system:node:{{EC2PrivateDNSName}}" if kind == "EC2_LINUX" else inputs.get("userName", principal),
        "accessEntryArn": ctx.arn("eks", f"access-entry/{cluster_name}/role/{_hex(principal, length=12)}"),
    }


# EKS access policies (EKS user guide, "Review access policy permissions"): what an association may name.
CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"
ACCESS_POLICIES = {CLUSTER_ADMIN, "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy",
                   "AmazonEKSAdminViewPolicy"}  # arn:<partition>:eks::aws:cluster-access-policy/<name>


def access_policy_association(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    """An access policy for a principal that has a STANDARD access entry (EC2_LINUX entries take none)."""
    cluster_name, principal, policy = inputs["clusterName"], inputs["principalArn"], inputs["policyArn"]
    _require_cluster(ctx, cluster_name)
    kind = ctx.eks_access_entries.get((cluster_name, principal))
    if kind is None:
        raise AwsRejection("ResourceNotFoundException", f"The specified principalArn could not be found: {principal}")
    if kind != "STANDARD":
        raise AwsRejection("InvalidParameterException", f"Access policies can only be associated with access entries "
                           f"of type STANDARD; {principal} is {kind}")
    prefix = f"arn:{ctx.partition}:eks::aws:cluster-access-policy/"
    if not policy.startswith(prefix) or policy[len(prefix):] not in ACCESS_POLICIES:
        raise AwsRejection("InvalidParameterException", f"The specified policyArn is invalid: {policy}")
    scope = inputs.get("accessScope") or {}
    if scope.get("type") not in ("cluster", "namespace") or (scope.get("type") == "namespace") != bool(
            scope.get("namespaces")):
        raise AwsRejection("InvalidParameterException", "accessScope: type cluster, or type namespace with namespaces")
    ctx.eks_access_policies.setdefault((cluster_name, principal), {})[policy[len(prefix):]] = scope["type"]
    return f"{cluster_name}#{principal}#{policy}", {**inputs, "associatedAt": "2026-11-21T00:00:00Z"}


def cluster_admin_problem(ctx: AwsContext) -> str | None:
    """Why the Kubernetes provider, which runs as the identity running pulumi, would be refused by this stack's
    cluster: that identity holds no cluster-scoped AmazonEKSClusterAdminPolicy there (None: it does)."""
    for cluster_name in ctx.eks_clusters:
        policies = ctx.eks_access_policies.get((cluster_name, ctx.caller_principal), {})
        if policies.get(CLUSTER_ADMIN) != "cluster":
            return (f"the server has asked for the client to provide credentials ({ctx.caller_principal} has no "
                    f"access entry with AmazonEKSClusterAdminPolicy on {cluster_name}: no bootstrap admin, and not "
                    "in adminPrincipalArns)")
    return None


def addon(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    cluster_name, addon_name = inputs["clusterName"], inputs["addonName"]
    info = _require_cluster(ctx, cluster_name)
    offered = ADDON_VERSIONS.get(info["version"], {})
    if addon_name not in ADDON_SCHEMAS:
        raise AwsRejection("InvalidParameterException", f"Addon {addon_name} specified is not supported")
    version = inputs.get("addonVersion")
    if version is not None and version not in offered.get(addon_name, set()):
        raise AwsRejection("InvalidParameterException", f"Addon version specified ({version}) is not supported "
                           f"for {addon_name} on Kubernetes {info['version']}")
    # configurationValues against ADDON_SCHEMAS, resolveConflicts values: constraints.py.
    role = inputs.get("serviceAccountRoleArn")
    if role and not any(r.arn == role for r in _iam(ctx).roles.values()):
        raise AwsRejection("InvalidParameterException", f"serviceAccountRoleArn {role} does not exist")
    key = (cluster_name, addon_name)
    if key in ctx.eks_addons:
        raise AwsRejection("ResourceInUseException", f"Addon already exists: {addon_name}")
    ctx.eks_addons[key] = dict(inputs)
    return f"{cluster_name}:{addon_name}", {
        **inputs, "addonVersion": version or sorted(offered.get(addon_name, {"v0"}))[-1],
        "arn": ctx.arn("eks", f"addon/{cluster_name}/{addon_name}/{_hex(addon_name, length=8)}"),
    }


HANDLERS = {
    "aws:eks/cluster:Cluster": cluster,
    "aws:eks/accessEntry:AccessEntry": access_entry,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": access_policy_association,
    "aws:eks/addon:Addon": addon,
}
