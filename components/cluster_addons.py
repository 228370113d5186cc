"""ClusterAddons: the EKS add-ons that need running nodes and pod networking.

CoreDNS and the EBS CSI driver run as Deployments; EKS reports such an add-on ACTIVE only once
its pods run, and the provider waits for ACTIVE. So they are created after the nodes and the
CNI (pass ``depends_on``), unlike kube-proxy, a DaemonSet the Cluster installs up front.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import iam_documents
from .iam_roles import role_with_policies

EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"  # created by the add-on (EKS user guide, "Amazon EBS CSI driver")
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


@dataclass
class ClusterAddonsArgs:
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    versions: Mapping[str, str]  # add-on name -> version (components/addon_versions.py)
    # CoreDNS add-on configuration values (schema keys such as "corefile", components/corefile.py
    # addon_configuration); sent as JSON with sorted keys. Empty: EKS defaults.
    coredns_configuration: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class ClusterAddons(pulumi.ComponentResource):
    """Outputs: coredns_addon_arn, ebs_csi_addon_arn, ebs_csi_role_arn."""

    coredns_addon_arn: pulumi.Output[str]
    ebs_csi_addon_arn: pulumi.Output[str]
    ebs_csi_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k8snet:index:ClusterAddons", name, None, opts)
        # A component's depends_on does not reach its children: hand it to the add-ons, which
        # are what must wait (for the nodes and the CNI).
        given = (opts.depends_on if opts else None) or []
        wait_for = [given] if isinstance(given, pulumi.Resource) else list(given)

        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=args.cluster_name,
            addon_name="coredns",
            addon_version=args.versions["coredns"],
            configuration_values=json.dumps(dict(args.coredns_configuration), sort_keys=True)
            if args.coredns_configuration else None,
            # The Corefile in these values is the source of truth (components/corefile.py). OVERWRITE on
            # create replaces whatever CoreDNS objects exist; OVERWRITE on update is deliberate too: with
            # PRESERVE an update would keep a hand-edited ConfigMap over our Corefile, and with NONE the
            # update would fail on that conflict instead of restoring the configured DNS (EKS user guide,
            # "Update an Amazon EKS add-on": --resolve-conflicts).
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=wait_for),
        )

        # IRSA: only the driver's controller service account may assume this role.
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda a: iam_documents.dumps(
                iam_documents.irsa_trust(a[0], a[1], EBS_CSI_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT)))
        role, (attachment,) = role_with_policies(
            f"{name}-ebs-csi-role", trust, (EBS_CSI_POLICY,), "EBS CSI driver controller (IRSA)", args.tags, self)
        ebs = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=args.cluster_name,
            addon_name="aws-ebs-csi-driver",
            addon_version=args.versions["aws-ebs-csi-driver"],
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=dict(args.tags),
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
