"""Cluster: the EKS control plane for self-managed workers with a CNI of our own.

- created without EKS's bootstrap add-ons (no aws-node/VPC CNI, kube-proxy or CoreDNS), which
  is creation-only: changing it later replaces the cluster;
- API authentication mode: access entries, not the aws-auth ConfigMap; the node role gets an
  EC2_LINUX access entry so kubelets can join;
- control-plane ENIs in the private subnets, secrets envelope-encrypted with a KMS key of its
  own, every control-plane log type on (kept 365 days by default, KMS-encrypted), private endpoint
  always on, public endpoint only for the configured CIDRs, deletion protection on by default;
- cluster admins by access entry (``admin_principal_arns``, AmazonEKSClusterAdminPolicy), and then
  no bootstrap admin for the creator (k8snet/cluster/access.py: fixed at creation);
- the IAM OIDC provider for IRSA, the kube-proxy add-on (which needs no nodes to become
  ACTIVE), and a Kubernetes provider that later components receive (the nodes' join, their
  nodeadm user data, belongs to WorkerNodes).

CoreDNS and the EBS CSI driver need running nodes and a CNI: see ClusterAddons.
"""

import json
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..shared.args import checked
from ..shared import iam_documents, log_groups, partition, tags
from ..shared.iam_roles import role_with_policies
from . import access, addon_versions, kube_proxy
from .kubeconfig import kubeconfig

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
# Nodes without the VPC CNI: join and pull images. No AmazonEKS_CNI_Policy (no aws-node to use
# it). ECR pull-only is the narrower successor of ContainerRegistryReadOnly (EKS node IAM role guide).
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
# Creation-only (k8snet/cluster/access.py): a change must not replace an existing cluster.
BOOTSTRAP_ADMIN = "accessConfig.bootstrapClusterCreatorAdminPermissions"


class ClusterArgs(TypedDict):
    cluster_name: str
    """EKS cluster name (1-100 letters, digits, '-', '_')."""
    kubernetes_version: str
    """Kubernetes minor version, e.g. "1.35" (its EKS add-on versions must be pinned)."""
    vpc_id: pulumi.Input[str]
    """VPC of the control plane's security group."""
    subnet_ids: list[pulumi.Input[str]]
    """Private subnets for the control-plane ENIs, in at least two zones."""
    service_cidr: str
    """Service CIDR (RFC 1918, /12-/24, outside the VPC); fixed at creation."""
    region: str
    """AWS region, for the kubeconfig's `aws eks get-token`."""
    public_access_cidrs: NotRequired[list[str]]
    """CIDRs allowed to the public API endpoint; empty or absent: private endpoint only."""
    kube_proxy_mode: NotRequired[str]
    """'iptables' (default) or 'ipvs', set through the kube-proxy add-on."""
    log_retention_days: NotRequired[int]
    """Retention of the control-plane log group, a CloudWatch Logs value (default 365; CIS EKS 2.1.2)."""
    deletion_protection: NotRequired[bool]
    """EKS deletion protection (default true): DeleteCluster fails until it is turned off and applied."""
    admin_principal_arns: NotRequired[list[str]]
    """IAM roles/users given cluster admin by access entry; given any, the creator gets no bootstrap admin."""
    kubeconfig_profile: NotRequired[str]
    """AWS CLI profile the kubeconfig's `aws eks get-token` runs with (the stack's aws:profile)."""
    kubeconfig_role_arn: NotRequired[str]
    """Role the kubeconfig's `aws eks get-token --role-arn` assumes (the stack's aws:assumeRoles)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


class Cluster(pulumi.ComponentResource):
    """Outputs: name, endpoint, certificate_authority, kubeconfig (secret), oidc_provider_arn,
    oidc_issuer, node_role_arn, node_instance_profile, security_group_id (extra control-plane
    group), cluster_security_group_id (EKS-created); attribute ``provider`` (a Kubernetes provider
    for this cluster, for Python callers: other languages build one from ``kubeconfig``)."""

    name: pulumi.Output[str]
    """The EKS cluster's name."""
    endpoint: pulumi.Output[str]
    """The API server endpoint."""
    certificate_authority: pulumi.Output[str]
    """The cluster CA, base64 (as EKS returns it)."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig whose user runs `aws eks get-token` (secret: it names the endpoint and CA)."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider of the cluster's issuer (IRSA)."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL."""
    node_role_arn: pulumi.Output[str]
    """The worker nodes' IAM role (it has an EC2_LINUX access entry)."""
    node_instance_profile: pulumi.Output[str]
    """The worker nodes' instance profile name."""
    security_group_id: pulumi.Output[str]
    """The extra control-plane security group this component owns (the node rules reference it)."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS created for the cluster."""

    def __init__(self, name: str, args: ClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, ClusterArgs)
        cluster_name, version = args["cluster_name"], args["kubernetes_version"]
        versions = addon_versions.for_kubernetes(version)  # fails before any resource
        super().__init__("k8snet:index:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        base_tags = tags.merge(args.get("tags") or {}, {"k8snet/cluster": cluster_name})
        aws_partition = partition.lookup(self)  # ARNs and service principals (aws, aws-cn, aws-us-gov)

        # --- IAM: the control plane's role --------------------------------------------------
        cluster_role, attachments = role_with_policies(
            f"{name}-role",
            iam_documents.dumps(iam_documents.service_trust(aws_partition.service_principal("eks"), tag_session=True)),
            CLUSTER_POLICIES, f"EKS control plane of {cluster_name}", base_tags, self, aws_partition,
        )

        # --- secrets envelope encryption -------------------------------------------------------
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets envelope encryption for {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # KMS's default policy, written out (an explicit policy is reviewable; CKV2_AWS_64). EKS uses the key
            # through the cluster role's grant, created with the cluster.
            policy=account.apply(lambda a: iam_documents.dumps(iam_documents.kms_key_policy(aws_partition.name, a))),
            tags=base_tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-secrets", name=f"alias/eks/{cluster_name}-secrets", target_key_id=key.key_id,
                      opts=child)

        # --- control-plane logs: the group exists first, so its retention and key apply --------
        _, log_group = log_groups.encrypted_log_group(
            f"{name}-logs", f"/aws/eks/{cluster_name}/cluster",  # the name EKS writes to
            args.get("log_retention_days", 365), args["region"], f"EKS control-plane logs of {cluster_name}",
            base_tags, self)

        # An extra group on the control-plane ENIs that the node rules reference (the EKS-created
        # cluster security group is managed by EKS and also attached).
        cp_sg = aws.ec2.SecurityGroup(
            f"{name}-control-plane",
            name_prefix=f"cp-{cluster_name}-"[:100],
            description=f"EKS control plane of {cluster_name}",
            vpc_id=args["vpc_id"],
            tags=tags.merge(base_tags, {"Name": f"{cluster_name}-control-plane"}),
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-control-plane-egress",
            security_group_id=cp_sg.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="control plane to kubelets, webhooks",
            opts=child,
        )

        public_cidrs = list(args.get("public_access_cidrs") or [])
        public = bool(public_cidrs)
        admins = list(args.get("admin_principal_arns") or [])
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=version,
            role_arn=cluster_role.arn,
            bootstrap_self_managed_addons=False,
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Without admin principals the identity running `pulumi up` administers the cluster (the
                # provider uses it); with them, only they do. Creation-only: later changes are ignored.
                bootstrap_cluster_creator_admin_permissions=not admins,
            ),
            deletion_protection=args.get("deletion_protection", True),
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args["subnet_ids"]),
                security_group_ids=[cp_sg.id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=public_cidrs if public else None,
            ),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(
                service_ipv4_cidr=args["service_cidr"],
                ip_family="ipv4",
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(LOG_TYPES),
            tags=base_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, log_group],
                                        ignore_changes=[BOOTSTRAP_ADMIN]),
        )

        # --- IRSA: the cluster's OIDC issuer as an IAM identity provider -----------------------
        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],  # the IRSA audience, in every partition
            tags=base_tags,
            opts=child,
        )

        # --- nodes: role, instance profile, access entry ---------------------------------------
        node_role, node_attachments = role_with_policies(
            f"{name}-node-role",
            iam_documents.dumps(iam_documents.service_trust(aws_partition.service_principal("ec2"))),
            NODE_POLICIES, f"Self-managed worker nodes of {cluster_name}", base_tags, self, aws_partition,
        )
        # Nodes boot with the profile: its role must already carry the policies they join with.
        profile = aws.iam.InstanceProfile(f"{name}-node-profile", role=node_role.name, tags=base_tags,
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=node_attachments))
        node_access = aws.eks.AccessEntry(
            f"{name}-nodes",
            cluster_name=cluster.name,
            principal_arn=node_role.arn,
            type="EC2_LINUX",  # EKS adds the node to system:nodes; no policy association allowed
            tags=base_tags,
            opts=child,
        )

        # Cluster admins by access entry (EKS user guide, "Grant IAM users access to Kubernetes with EKS access
        # entries"): a STANDARD entry, then the cluster-scoped AmazonEKSClusterAdminPolicy association.
        admin_grants = []
        for arn in admins:
            slug = f"{name}-admin-{access.principal_slug(arn)}"
            entry = aws.eks.AccessEntry(slug, cluster_name=cluster.name, principal_arn=arn, type="STANDARD",
                                        tags=base_tags, opts=child)
            admin_grants.append(aws.eks.AccessPolicyAssociation(
                f"{slug}-cluster-admin", cluster_name=cluster.name, principal_arn=arn,
                policy_arn=access.CLUSTER_ADMIN_POLICY.format(partition=aws_partition.name),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry])))

        kube_proxy_addon = aws.eks.Addon(
            f"{name}-kube-proxy",
            cluster_name=cluster.name,
            addon_name="kube-proxy",
            addon_version=versions["kube-proxy"],
            configuration_values=json.dumps(kube_proxy.addon_configuration(args.get("kube_proxy_mode", "iptables")),
                                            sort_keys=True),
            # We own these add-ons' configuration: on create and update, ours wins over edits.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=base_tags,
            opts=child,
        )

        ca = cluster.certificate_authority.data
        identity = access.KubeconfigIdentity(args.get("kubeconfig_profile"), args.get("kubeconfig_role_arn"))
        config_text = pulumi.Output.all(cluster.endpoint, ca).apply(
            lambda ec: kubeconfig(cluster_name, ec[0], ec[1], args["region"], identity)
        )
        self.kubeconfig = pulumi.Output.secret(config_text)
        # Everything the provider talks to exists once the cluster has its access entries and
        # kube-proxy: the provider depends on them through the kubeconfig's dependencies.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_access, kube_proxy_addon, *admin_grants]),
        )

        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = ca
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer = issuer
        self.node_role_arn = node_role.arn
        self.node_instance_profile = profile.name
        self.security_group_id = cp_sg.id
        self.cluster_security_group_id = cluster.vpc_config.cluster_security_group_id
        self.register_outputs({
            "name": self.name,
            "endpoint": self.endpoint,
            "certificateAuthority": self.certificate_authority,
            "kubeconfig": self.kubeconfig,
            "oidcProviderArn": self.oidc_provider_arn,
            "oidcIssuer": self.oidc_issuer,
            "nodeRoleArn": self.node_role_arn,
            "nodeInstanceProfile": self.node_instance_profile,
            "securityGroupId": self.security_group_id,
            "clusterSecurityGroupId": self.cluster_security_group_id,
        })
