"""Calico: the tigera-operator chart with an EKS Installation and one IPPool per node.

Design (docs/cni.md has the long form and the sources):
- The chart (``tigera-operator`` v3.31.7, https://docs.tigera.io/calico/charts) installs the CRDs
  (its ``crds/`` directory, before any template) and renders the ``Installation`` from
  ``values.installation``: EKS provider, Calico CNI + Calico IPAM, BGP disabled, the MTU of the
  mode, and ``ipPools: []`` -- documented in the Installation CRD as "the operator will not create
  any IP pools and will instead wait for IP pools to be created out-of-band". No default pool.
- Pools and the IPAM config are objects of their own, written through ``crd.projectcalico.org/v1``,
  the CRDs the chart installs. The operator bootstraps its own pools the same way, because the
  ``projectcalico.org/v3`` API server "is non-functional if there are no IP pools in the cluster"
  (tigera/operator v1.40.15, pkg/controller/ippool/pool_controller.go): going through v3 would
  deadlock a first ``pulumi up``. Every field is written explicitly (nothing left to v3
  defaulting) and checked here against the v3 validation rules.
- IPIP without BGP: BIRD is off (the operator sets CALICO_NETWORKING_BACKEND=vxlan when BGP is
  disabled), so Felix must program the IPIP routes itself (FelixConfiguration
  ``programClusterRoutes: Enabled``; the field exists from Calico v3.31.0 on: calico commit 79cb86f993,
  absent from every v3.30 release). Only for IPIP: with unencapsulated pools that setting makes Felix
  add direct routes to other nodes, which cannot work across subnets; the VPC routes do that job.
  It is set by a server-side-apply patch of FelixConfiguration ``default``, not through the chart's
  ``defaultFelixConfiguration``: the operator creates ``default`` itself when it is absent (operator
  v1.40.15 PatchFelixConfiguration), so on a stack that started without IPIP the chart would render an
  object Helm does not own and ``helm upgrade`` would fail ("exists and cannot be imported into the
  current release"). The patch creates the object if the operator has not yet, and otherwise merges its
  one field next to the operator's (healthPort, vxlanVNI, vxlanPort), under its own field manager.
- Host protection: pods may not open connections to the nodes' own addresses (the host-network ports
  of the kubelet, Typha, the load balancer controller's webhook and probes, node-local-dns's metrics...).
  The operator runs calico-node with DefaultEndpointToHostAction ACCEPT (operator v1.40.15
  pkg/render/node.go), so a pod reaches its own node's host ports after its own egress policy, and other
  nodes SNATed to its node's address. A GlobalNetworkPolicy selecting every workload denies egress to the
  node addresses; it sits in a tier of its own, ordered before Calico's ``default`` tier, whose
  defaultAction is Pass: a policy in the default tier that selects a pod makes everything it does not
  allow a deny (Calico's end-of-tier drop), which would isolate every pod of the cluster. docs/data-path.md.
"""

from collections.abc import Sequence
from ipaddress import IPv4Network
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..shared.args import checked
from ..shared import options
from ..shared.kube import kube_resource
from ..shared.node_labels import NODE_NAME_LABEL
from . import chart
from . import dataplane as cni

CHART = "tigera-operator"
CHART_VERSION = "v3.31.7"  # Calico v3.31.7 (2026-08-20), tigera/operator v1.40.15; tested on Kubernetes 1.35
CHART_REPO = "https://docs.tigera.io/calico/charts"
NAMESPACE = "tigera-operator"
CRD_GROUP = "crd.projectcalico.org/v1"
# libcalico-go/lib/clientv3/ippool.go: "IPv4 block size must be between 20 and 32".
MIN_BLOCK_PREFIX, MAX_BLOCK_PREFIX = 20, 32
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi"}
# Who owns the fields the stack sets on Calico's own objects (server-side apply's fieldManager; readable
# in `kubectl get felixconfiguration default --show-managed-fields`).
FIELD_MANAGER = "k8snet-calico"


def pool_name(node: str) -> str:
    return f"k8snet-{node}"


def node_selector(node: str) -> str:
    """Calico selector matching only the node whose k8snet.io/node label is ``node``."""
    return f"{NODE_NAME_LABEL} == '{node}'"


def ip_pool(node: str, block: IPv4Network, encapsulation: str) -> dict:
    """The IPPool object pinning ``block`` to ``node``: one block of exactly the pool's size."""
    cni.dataplane_ports("calico", encapsulation)  # rejects modes Calico does not have
    if not MIN_BLOCK_PREFIX <= block.prefixlen <= MAX_BLOCK_PREFIX:
        raise ValueError(f"{node}: Calico block sizes are /{MIN_BLOCK_PREFIX}../{MAX_BLOCK_PREFIX}, "
                         f"{block} is /{block.prefixlen}")
    return {
        "apiVersion": CRD_GROUP,
        "kind": "IPPool",
        "metadata": {"name": pool_name(node), "labels": {**MANAGED_BY, NODE_NAME_LABEL: node}},
        "spec": {
            "cidr": str(block),
            "blockSize": block.prefixlen,  # the pool is one block: it can only ever be this node's
            "nodeSelector": node_selector(node),
            "ipipMode": "Always" if encapsulation == "ipip" else "Never",
            "vxlanMode": "Always" if encapsulation == "vxlan" else "Never",
            "natOutgoing": True,  # egress SNAT to the node IP; the NAT gateway only knows node IPs
            "allowedUses": ["Workload", "Tunnel"],
            "assignmentMode": "Automatic",
            "disabled": False,
        },
    }


def ipam_config() -> dict:
    """Global IPAM settings (libcalico-go reads only the object named "default")."""
    return {
        "apiVersion": CRD_GROUP,
        "kind": "IPAMConfig",
        "metadata": {"name": "default", "labels": dict(MANAGED_BY)},
        # strictAffinity: a node never borrows addresses from a block affine to another node, so a
        # pod IP is always inside the block the VPC routes to its node.
        "spec": {"strictAffinity": True, "autoAllocateBlocks": True},
    }


def chart_values(encapsulation: str) -> dict:
    """Values for the tigera-operator chart (keys checked against the chart's values.yaml and
    the Installation/FelixConfiguration CRDs in tests/test_calico.py)."""
    cni.dataplane_ports("calico", encapsulation)
    values: dict = {
        "installation": {
            "kubernetesProvider": "EKS",
            "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
            "calicoNetwork": {"bgp": "Disabled", "mtu": cni.mtu(encapsulation), "ipPools": []},
        },
        # Calico 3.31's flow-log aggregator and its UI (chart default: on). calico-node (hostNetwork) on
        # every node would report to the Goldmane pod on TCP 7443, a node -> pod flow across nodes the
        # nodes' security group would have to open; this stack does not use them. Without the CRs the
        # operator deploys neither (templates/crs/custom-resources.yaml; operator v1.40.15 goldmane and
        # whisker controllers return when CR "default" is absent).
        "goldmane": {"enabled": False},
        "whisker": {"enabled": False},
    }
    return values


# Tier orders of Calico's own tiers (libcalico-go clientv3 EnsureInitialized: adminnetworkpolicy 1,000,
# default 1,000,000, baselineadminnetworkpolicy 10,000,000); lower is evaluated first.
HOST_TIER = "k8snet-host-protection"
HOST_TIER_ORDER = 100
WORKLOADS = "has(projectcalico.org/orchestrator)"  # every pod's endpoint (Calico labels each with it)


def host_protection_tier() -> dict:
    return {"apiVersion": CRD_GROUP, "kind": "Tier", "metadata": {"name": HOST_TIER, "labels": dict(MANAGED_BY)},
            # Pass: what this tier's policies do not decide goes on to the next tiers (the namespaces' policies).
            "spec": {"order": HOST_TIER_ORDER, "defaultAction": "Pass"}}


def host_protection_policy(node_ips: Sequence[str]) -> dict:
    """Pods may not open connections to the nodes' addresses; everything else passes on to the next tier."""
    return {
        "apiVersion": CRD_GROUP,
        "kind": "GlobalNetworkPolicy",
        # Written through crd.projectcalico.org/v1 like the pools: the name carries the tier, as the
        # projectcalico.org/v3 API stores it (libcalico-go names.BackendTieredPolicyName).
        "metadata": {"name": f"{HOST_TIER}.pods-to-nodes", "labels": dict(MANAGED_BY)},
        "spec": {
            "tier": HOST_TIER,
            "order": 100,
            "selector": WORKLOADS,
            "types": ["Egress"],
            "egress": [
                {"action": "Deny", "destination": {"nets": sorted({f"{ip}/32" for ip in node_ips})}},
                {"action": "Pass"},
            ],
        },
    }


def felix_configuration_patch(encapsulation: str) -> dict | None:
    """The fields the stack sets on FelixConfiguration ``default`` (a patch: the operator owns the object),
    or None when it sets none."""
    if encapsulation != "ipip":
        return None
    return {
        "apiVersion": CRD_GROUP,
        "kind": "FelixConfiguration",
        # pulumi-kubernetes reads the field manager from this annotation (provider fieldManagerName); no
        # patchForce: the operator never sets this field, so a conflict would mean someone else did.
        "metadata": {"name": "default", "annotations": {"pulumi.com/patchFieldManager": FIELD_MANAGER}},
        "spec": {"programClusterRoutes": "Enabled"},
    }


class CalicoArgs(TypedDict):
    node_blocks: dict[str, str]
    """Node config name -> its pod block (10.1.N.0/24): one IPPool each, pinned to that node."""
    encapsulation: str
    """'none' (the VPC routes carry pod traffic), 'vxlan' or 'ipip'."""
    node_ips: NotRequired[dict[str, pulumi.Input[str]]]
    """Node config name -> its private IP: pods may not connect to these addresses (a GlobalNetworkPolicy
    in a tier of its own). Default none: no host protection."""


class Calico(pulumi.ComponentResource):
    """tigera-operator Release + IPAMConfig + one IPPool per node (``<name>-pool-<node>``), and with IPIP
    a patch of FelixConfiguration ``default`` (``<name>-felix-config``). Pass the cluster's Kubernetes
    provider and what to wait for (the worker nodes: the chart's pre-delete hook needs one) in ``opts``.

    Outputs: pool_cidrs (node -> pool CIDR), pool_names (node -> IPPool name), mtu, namespace.
    """

    pool_cidrs: pulumi.Output[dict[str, str]]
    """Node -> the CIDR of its IPPool (its pod block)."""
    pool_names: pulumi.Output[dict[str, str]]
    """Node -> its IPPool's name."""
    mtu: pulumi.Output[int]
    """The pods' interface MTU for the encapsulation."""
    namespace: pulumi.Output[str]
    """The tigera-operator's namespace."""

    def __init__(self, name: str, args: CalicoArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, CalicoArgs)
        blocks = cni.node_blocks(dict(args["node_blocks"]))
        encapsulation = args["encapsulation"]
        pools = {node: ip_pool(node, block, encapsulation) for node, block in blocks.items()}
        values = chart_values(encapsulation)
        super().__init__("k8snet:index:Calico", name, None, opts)
        ns, release = chart.install(self, f"{name}-operator", namespace=NAMESPACE, labels={"name": NAMESPACE},
                                    release="calico", chart=CHART, version=CHART_VERSION, repo=CHART_REPO,
                                    values=values, after=options.dependencies(opts))
        # Custom resources need the CRDs the release installs ("no matches for kind" otherwise).
        kube_resource(f"{name}-ipam-config", ipam_config(), options.child(self, [release]))
        felix = felix_configuration_patch(encapsulation)
        if felix is not None:
            # The provider retries while the CRD is not served yet (await.go Creation's retrier).
            k8s.apiextensions.CustomResourcePatch(f"{name}-felix-config", api_version=felix["apiVersion"],
                                                  kind=felix["kind"], metadata=felix["metadata"],
                                                  spec=felix["spec"], opts=options.child(self, [release]))
        for node, pool in pools.items():
            kube_resource(f"{name}-pool-{node}", pool, options.child(self, [release]))
        node_ips = dict(args.get("node_ips") or {})
        if node_ips:
            tier = kube_resource(f"{name}-host-tier", host_protection_tier(), options.child(self, [release]))
            policy = host_protection_policy([])
            ips = pulumi.Output.all(*[node_ips[n] for n in sorted(node_ips)])
            kube_resource(f"{name}-host-protection",
                          {**policy, "spec": ips.apply(lambda found: host_protection_policy(found)["spec"])},
                          options.child(self, [release, tier]))

        self.pool_cidrs = pulumi.Output.from_input({node: p["spec"]["cidr"] for node, p in pools.items()})
        self.pool_names = pulumi.Output.from_input({node: p["metadata"]["name"] for node, p in pools.items()})
        self.mtu = pulumi.Output.from_input(cni.mtu(encapsulation))
        self.namespace = ns.metadata["name"]
        self.register_outputs({"poolCidrs": self.pool_cidrs, "poolNames": self.pool_names,
                               "mtu": self.mtu, "namespace": self.namespace})
