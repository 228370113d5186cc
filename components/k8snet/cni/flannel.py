"""Flannel: the flannel chart in kube-subnet-mgr mode, plus each node's podCIDR.

- flanneld ``--kube-subnet-mgr`` (the chart's default args) takes the node's lease from
  ``node.spec.podCIDR`` and fails with "pod cidr not assigned" without it. EKS does not allocate
  podCIDRs, so k8snet/cni/pod_cidr_assigner.py sets them (why not a NodePatch: see there).
- Backend per mode: ``none`` -> ``alloc`` (flanneld only takes the lease and writes the CNI
  subnet; no routes, no tunnel: the VPC routes forward pod traffic; ``host-gw`` would need every
  node on one L2 segment, which nodes in several subnets are not), ``vxlan`` -> ``vxlan``.
- MTU is derived by flanneld, nothing to set: ``alloc`` uses the interface MTU (9001,
  pkg/backend/simple_network.go), ``vxlan`` the interface MTU - 50 = 8951 (pkg/backend/vxlan/device.go).
- ``--ip-masq`` (chart default) SNATs pod traffic leaving the pod CIDR to the node IP.
- NetworkPolicy: flannel enforces none; ``netpol.enabled`` adds kube-network-policies (chart >= v0.25.5).
"""

from collections.abc import Mapping
from ipaddress import IPv4Network, ip_network
from typing import NotRequired, Optional, TypedDict

import pulumi

from ..shared.args import checked
from ..shared import options
from ..shared.kube import kube_resource
from . import chart, pod_cidr_assigner
from . import dataplane as cni

CHART = "flannel"
CHART_VERSION = "v0.28.9"  # flannel v0.28.9 (2026-08-07)
CHART_REPO = "https://flannel-io.github.io/flannel/"
NAMESPACE = "kube-flannel"
BACKENDS = {"none": "alloc", "vxlan": "vxlan"}


def backend(encapsulation: str) -> str:
    cni.dataplane_ports("flannel", encapsulation)  # rejects ipip
    return BACKENDS[encapsulation]


def chart_values(pod_cidr: str | IPv4Network, encapsulation: str, network_policy: bool) -> dict:
    """Values for the flannel chart (keys checked against its values.yaml in tests/test_flannel.py)."""
    return {
        "podCidr": str(ip_network(str(pod_cidr))),  # flannel's Network: every node block lies inside it
        "flannel": {"backend": backend(encapsulation)},
        "netpol": {"enabled": bool(network_policy)},
    }


def check_blocks(pod_cidr: str | IPv4Network, blocks: Mapping[str, IPv4Network]) -> None:
    """flanneld refuses a node podCIDR outside its Network (pkg/subnet/kube/kube.go)."""
    network = ip_network(str(pod_cidr))
    outside = sorted(f"{n} ({b})" for n, b in blocks.items() if not b.subnet_of(network))
    if outside:
        raise ValueError(f"pod blocks outside the flannel network {network}: {', '.join(outside)}")


class FlannelArgs(TypedDict):
    node_blocks: dict[str, str]
    """Node config name -> its pod block (10.1.N.0/24), set as the node's spec.podCIDR."""
    pod_cidr: str
    """The whole pod range (10.1.0.0/16): flannel's Network."""
    encapsulation: str
    """'none' (backend alloc; the VPC routes carry pod traffic) or 'vxlan'."""
    network_policy: NotRequired[bool]
    """Enforce NetworkPolicy with kube-network-policies (default false)."""
    kubectl_image: NotRequired[str]
    """Image of the podCIDR assigner's patch step."""
    node_names: NotRequired[dict[str, pulumi.Input[str]]]
    """Node config name -> its Kubernetes node name: the assigner's RBAC then names only these Nodes."""


class Flannel(pulumi.ComponentResource):
    """flannel Release + podCIDR assigner (RBAC, its admission policy and one DaemonSet ``<name>-podcidr-<node>``
    per node).
    Pass the cluster's Kubernetes provider and what to wait for in ``opts``.

    Outputs: pod_cidrs (node -> assigned podCIDR), backend, mtu, namespace.
    """

    pod_cidrs: pulumi.Output[dict[str, str]]
    """Node -> the podCIDR assigned to it."""
    backend: pulumi.Output[str]
    """flannel's backend (alloc or vxlan)."""
    mtu: pulumi.Output[int]
    """The pods' interface MTU for the backend."""
    namespace: pulumi.Output[str]
    """flannel's namespace."""

    def __init__(self, name: str, args: FlannelArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, FlannelArgs)
        blocks = cni.node_blocks(dict(args["node_blocks"]))
        encapsulation = args["encapsulation"]
        check_blocks(args["pod_cidr"], blocks)
        values = chart_values(args["pod_cidr"], encapsulation, args.get("network_policy", False))
        super().__init__("k8snet:index:Flannel", name, None, opts)
        after = options.dependencies(opts)
        # flannel README: the namespace must allow privileged pods.
        ns, _ = chart.install(self, f"{name}-release", namespace=NAMESPACE, labels={}, release="flannel",
                              chart=CHART, version=CHART_VERSION, repo=CHART_REPO, values=values, after=after)

        node_names = args.get("node_names") or {}
        objs = pod_cidr_assigner.rbac(NAMESPACE, [node_names[n] for n in sorted(node_names)])
        sa = kube_resource(f"{name}-podcidr-sa", objs["ServiceAccount"], options.child(self, [ns]))
        role = kube_resource(f"{name}-podcidr-role", objs["ClusterRole"], options.child(self, after))
        binding = kube_resource(f"{name}-podcidr-binding", objs["ClusterRoleBinding"], options.child(self, [sa, role]))
        # The policy is in force before any assigner pod can send a patch.
        policy = kube_resource(f"{name}-podcidr-policy", pod_cidr_assigner.admission_policy(NAMESPACE, blocks),
                               options.child(self, after))
        policy_binding = kube_resource(f"{name}-podcidr-policy-binding", pod_cidr_assigner.admission_binding(),
                                       options.child(self, [policy]))
        image = args.get("kubectl_image", pod_cidr_assigner.KUBECTL_IMAGE)
        for node, block in blocks.items():
            kube_resource(f"{name}-podcidr-{node}", pod_cidr_assigner.daemonset(node, block, NAMESPACE, image),
                          options.child(self, [ns, sa, binding, policy_binding]))

        self.pod_cidrs = pulumi.Output.from_input({node: str(block) for node, block in blocks.items()})
        self.backend = pulumi.Output.from_input(backend(encapsulation))
        self.mtu = pulumi.Output.from_input(cni.mtu(encapsulation))
        self.namespace = ns.metadata["name"]
        self.register_outputs({"podCidrs": self.pod_cidrs, "backend": self.backend, "mtu": self.mtu,
                               "namespace": self.namespace})
