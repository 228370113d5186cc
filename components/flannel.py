"""Flannel: the flannel chart in kube-subnet-mgr mode, plus each node's podCIDR.

- flanneld ``--kube-subnet-mgr`` (the chart's default args) takes the node's lease from
  ``node.spec.podCIDR`` and fails with "pod cidr not assigned" without it. EKS does not allocate
  podCIDRs, so components/pod_cidr_assigner.py sets them (why not a NodePatch: see there).
- Backend per mode: ``none`` -> ``alloc`` (flanneld only takes the lease and writes the CNI
  subnet; no routes, no tunnel: the VPC routes forward pod traffic; ``host-gw`` would need every
  node on one L2 segment, which nodes in several subnets are not), ``vxlan`` -> ``vxlan``.
- MTU is derived by flanneld, nothing to set: ``alloc`` uses the interface MTU (9001,
  pkg/backend/simple_network.go), ``vxlan`` the interface MTU - 50 = 8951 (pkg/backend/vxlan/device.go).
- ``--ip-masq`` (chart default) SNATs pod traffic leaving the pod CIDR to the node IP.
- NetworkPolicy: flannel enforces none; ``netpol.enabled`` adds kube-network-policies (chart >= v0.25.5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network

import pulumi
import pulumi_kubernetes as k8s

from . import cni, pod_cidr_assigner

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


@dataclass
class FlannelArgs:
    node_blocks: Mapping[str, str | IPv4Network]  # node config name -> pod block (10.1.N.0/24)
    pod_cidr: str | IPv4Network  # the whole pod range (10.1.0.0/16)
    encapsulation: str  # "none" | "vxlan"
    network_policy: bool = False  # enforce NetworkPolicy with kube-network-policies
    provider: k8s.Provider | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)  # e.g. the cluster's add-ons
    kubectl_image: str = pod_cidr_assigner.KUBECTL_IMAGE


class Flannel(pulumi.ComponentResource):
    """flannel Release + podCIDR assigner (RBAC and one DaemonSet ``<name>-podcidr-<node>`` per node).

    Outputs: pod_cidrs (node -> assigned podCIDR), backend, mtu, namespace.
    """

    pod_cidrs: pulumi.Output[dict]
    backend: pulumi.Output[str]
    mtu: pulumi.Output[int]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: FlannelArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k8snet:index:Flannel", name, None, opts)
        blocks = cni.node_blocks(dict(args.node_blocks))
        check_blocks(args.pod_cidr, blocks)
        values = chart_values(args.pod_cidr, args.encapsulation, args.network_policy)

        def child(depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))

        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # flannel README: the namespace must allow privileged pods.
            metadata={"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
            opts=child(args.depends_on),
        )
        k8s.helm.v3.Release(
            f"{name}-release",
            name="flannel",
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=ns.metadata["name"],
            values=values,
            # helm --wait would wait for flannel pods, which are Ready only on registered nodes
            # with a podCIDR; nodes are NotReady until flannel runs. Accepted is enough.
            skip_await=True,
            opts=child(args.depends_on),
        )

        objs = pod_cidr_assigner.rbac(NAMESPACE)
        sa = k8s.core.v1.ServiceAccount(f"{name}-podcidr-sa", metadata=objs["ServiceAccount"]["metadata"],
                                        opts=child([ns]))
        role = k8s.rbac.v1.ClusterRole(f"{name}-podcidr-role", metadata=objs["ClusterRole"]["metadata"],
                                       rules=objs["ClusterRole"]["rules"], opts=child(args.depends_on))
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-podcidr-binding", metadata=objs["ClusterRoleBinding"]["metadata"],
            role_ref=objs["ClusterRoleBinding"]["roleRef"], subjects=objs["ClusterRoleBinding"]["subjects"],
            opts=child([sa, role]))
        for node, block in blocks.items():
            ds = pod_cidr_assigner.daemonset(node, block, NAMESPACE, args.kubectl_image)
            k8s.apps.v1.DaemonSet(f"{name}-podcidr-{node}", metadata=ds["metadata"], spec=ds["spec"],
                                  opts=child([ns, sa, binding]))

        self.pod_cidrs = pulumi.Output.from_input({node: str(block) for node, block in blocks.items()})
        self.backend = pulumi.Output.from_input(backend(args.encapsulation))
        self.mtu = pulumi.Output.from_input(cni.mtu(args.encapsulation))
        self.namespace = ns.metadata["name"]
        self.register_outputs({"podCidrs": self.pod_cidrs, "backend": self.backend, "mtu": self.mtu,
                               "namespace": self.namespace})
