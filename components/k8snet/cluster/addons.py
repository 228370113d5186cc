"""ClusterAddons: the EKS add-ons that need running nodes and pod networking.

CoreDNS and the EBS CSI driver run as Deployments; EKS reports such an add-on ACTIVE only once
its pods run, and the provider waits for ACTIVE. So they are created after the nodes and the
CNI (pass ``depends_on``), unlike kube-proxy, a DaemonSet the Cluster installs up front.
"""

import json
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared.args import checked
from ..shared import iam_documents, options, partition
from ..shared.iam_roles import role_with_policies
from . import addon_versions

EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"  # created by the add-on (EKS user guide, "Amazon EBS CSI driver")
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


class ClusterAddonsArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """The EKS cluster."""
    kubernetes_version: str
    """Its Kubernetes minor version: picks the pinned add-on versions (k8snet/cluster/addon_versions.py)."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (IRSA for the EBS CSI driver)."""
    oidc_issuer: pulumi.Input[str]
    """The cluster's OIDC issuer URL."""
    corefile: NotRequired[str]
    """CoreDNS's whole Corefile (the add-on's `corefile` configuration value); absent: EKS's default."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


class ClusterAddons(pulumi.ComponentResource):
    """Outputs: coredns_addon_arn, ebs_csi_addon_arn, ebs_csi_role_arn."""

    coredns_addon_arn: pulumi.Output[str]
    """The CoreDNS add-on's ARN."""
    ebs_csi_addon_arn: pulumi.Output[str]
    """The EBS CSI driver add-on's ARN."""
    ebs_csi_role_arn: pulumi.Output[str]
    """The EBS CSI controller's IRSA role."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, ClusterAddonsArgs)
        versions = addon_versions.for_kubernetes(args["kubernetes_version"])
        super().__init__("k8snet:index:ClusterAddons", name, None, opts)
        # The add-ons are what must wait (for the nodes and the CNI): they get the component's depends_on.
        wait_for = options.dependencies(opts)
        extra_tags = dict(args.get("tags") or {})
        corefile = args.get("corefile")

        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=args["cluster_name"],
            addon_name="coredns",
            addon_version=versions["coredns"],
            configuration_values=json.dumps({"corefile": corefile}, sort_keys=True) if corefile else None,
            # The Corefile in these values is the source of truth (k8snet/dns/corefile.py). OVERWRITE on
            # create replaces whatever CoreDNS objects exist; OVERWRITE on update is deliberate too: with
            # PRESERVE an update would keep a hand-edited ConfigMap over our Corefile, and with NONE the
            # update would fail on that conflict instead of restoring the configured DNS (EKS user guide,
            # "Update an Amazon EKS add-on": --resolve-conflicts).
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=extra_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=wait_for),
        )

        # IRSA: only the driver's controller service account may assume this role.
        trust = pulumi.Output.all(args["oidc_provider_arn"], args["oidc_issuer"]).apply(
            lambda a: iam_documents.dumps(
                iam_documents.irsa_trust(a[0], a[1], EBS_CSI_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT)))
        role, (attachment,) = role_with_policies(
            f"{name}-ebs-csi-role", trust, (EBS_CSI_POLICY,), "EBS CSI driver controller (IRSA)", extra_tags, self,
            partition.lookup(self))
        ebs = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=args["cluster_name"],
            addon_name="aws-ebs-csi-driver",
            addon_version=versions["aws-ebs-csi-driver"],
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=extra_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment, *wait_for]),
        )

        self.coredns_addon_arn = coredns.arn
        self.ebs_csi_addon_arn = ebs.arn
        self.ebs_csi_role_arn = role.arn
        self.register_outputs({
            "corednsAddonArn": self.coredns_addon_arn,
            "ebsCsiAddonArn": self.ebs_csi_addon_arn,
            "ebsCsiRoleArn": self.ebs_csi_role_arn,
        })
