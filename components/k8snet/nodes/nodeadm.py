"""Node join for Amazon Linux 2023: the nodeadm ``NodeConfig`` every worker boots with.

nodeadm reads NodeConfig documents from the instance's user data, either alone or as a MIME
multi-part part of type ``application/node.eks.aws`` (amazon-eks-ami, nodeadm docs "Configuration").
Pure: the cluster component feeds it the endpoint and CA once they are known.
"""

from __future__ import annotations

import email
import hashlib
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from ipaddress import IPv4Network

import yaml

NODE_CONFIG_API = "node.eks.aws/v1alpha1"
# Pods that hold no address of their own (hostNetwork DaemonSets, the load balancer controller)
# still count against kubelet's maxPods; addresses are the limit that matters.
RESERVED_IN_BLOCK = 3  # network address, the bridge/gateway address, broadcast

# EKS's recommended ceiling (amazon-eks-ami max-pods-calculator.sh, last in templates/al2/runtime before
# AL2's removal, commit b2289030): 110 pods on instances with at most 30 vCPUs, 250 above.
CPU_CEILINGS = ((30, 110), (None, 250))
# nodeadm reserves kube-reserved memory for the pods it plans for: 11 MiB each + 255 MiB
# (nodeadm/internal/kubelet/config.go getMemoryMebibytesToReserve). We keep that at most a quarter of
# the instance's memory -- GKE's reservation for the first 4 GiB (GKE "plan node sizes") -- so small
# instances keep three quarters for pods instead of reserving for pods they could never hold.
MEMORY_SHARE = 4
# Below this the stack's own pods on a node (kube-proxy, the CNI's agents, CSI node, DNS, the load
# balancer controller, the app: about a dozen) leave no room: such an instance type is refused.
MIN_MAX_PODS = 20


def kube_reserved_memory_mib(max_pods: int) -> int:
    """nodeadm's kube-reserved memory for ``max_pods`` pods (config.go getMemoryMebibytesToReserve)."""
    return 11 * max_pods + 255


def max_pods(block: IPv4Network, vcpus: int, memory_mib: int) -> int:
    """kubelet's maxPods for a node owning ``block`` on an instance with ``vcpus`` and ``memory_mib``.

    The smallest of: the block's usable addresses (every pod needs one; without the VPC CNI the
    ENI-based default, 17 on a t3.medium, is meaningless), EKS's vCPU ceiling (110 / 250), and the
    pods whose kube-reserved memory fits in a quarter of the instance's memory. nodeadm sizes the
    reservation from the same figure (``maxPodsExpression``), so the two never disagree.
    """
    by_addresses = block.num_addresses - RESERVED_IN_BLOCK
    by_cpu = next(pods for limit, pods in CPU_CEILINGS if limit is None or vcpus <= limit)
    by_memory = (memory_mib // MEMORY_SHARE - kube_reserved_memory_mib(0)) // 11
    return max(0, min(by_addresses, by_cpu, by_memory))


def node_config(
    cluster_name: str,
    endpoint: str,
    certificate_authority: str,  # base64, as EKS returns it
    service_cidr: str,
    max_pods: int,
    labels: dict[str, str],
    cluster_dns: tuple[str, ...] = (),
) -> dict:
    """``cluster_dns`` replaces the kubelet clusterDNS nodeadm derives from ``service_cidr`` (its 10th
    address, the kube-dns ClusterIP); empty keeps nodeadm's value and the user data unchanged."""
    # maxPods in kubelet's config and, as a constant CEL expression, the figure nodeadm sizes kube-reserved
    # memory from (without it nodeadm reserves for its ENI-based default while kubelet runs maxPods:
    # amazon-eks-ami nodeadm/doc/api.md, KubeletOptions.maxPodsExpression, nodeadm >= v20251007; an older
    # nodeadm ignores the field and keeps its own reservation).
    kubelet_config: dict = {"maxPods": max_pods}
    if cluster_dns:
        # Written to a kubelet drop-in that overrides nodeadm's generated clusterDNS (amazon-eks-ami
        # nodeadm e2e case mime-userdata-merge); node-local-dns in ipvs mode needs it (docs/dns.md).
        kubelet_config["clusterDNS"] = list(cluster_dns)
    return {
        "apiVersion": NODE_CONFIG_API,
        "kind": "NodeConfig",
        "spec": {
            "cluster": {
                "name": cluster_name,
                "apiServerEndpoint": endpoint,
                "certificateAuthority": certificate_authority,
                "cidr": service_cidr,
            },
            "kubelet": {
                # Merged over nodeadm's generated kubelet config; an explicit maxPods replaces the
                # value nodeadm derives from the instance type's ENI limits.
                "config": kubelet_config,
                "flags": [f"--node-labels={','.join(f'{k}={v}' for k, v in sorted(labels.items()))}"],
                "maxPodsExpression": str(max_pods),
            },
        },
    }


def user_data(config: dict, scripts: tuple[str, ...] = ()) -> str:
    """The MIME multi-part user data nodeadm expects, byte-for-byte reproducible (a fixed
    boundary derived from the content, so an unchanged config never shows a diff). ``scripts``
    become text/x-shellscript parts, which cloud-init runs (nodeadm reads only its own part)."""
    body = "---\n" + yaml.safe_dump(config, sort_keys=True)
    boundary = "//k8snet-" + hashlib.sha256("\0".join((body, *scripts)).encode()).hexdigest()[:16]
    message = MIMEMultipart("mixed", boundary=boundary)
    part = MIMENonMultipart("application", "node.eks.aws")
    part.set_payload(body)  # 7bit text: nodeadm's multipart reader does not decode base64
    message.attach(part)
    for script in scripts:
        shell = MIMENonMultipart("text", "x-shellscript")
        shell.set_payload(script)
        message.attach(shell)
    return message.as_string()


def node_config_of(user_data_text: str) -> dict | None:
    """The NodeConfig inside user data made by ``user_data`` (for checks that read instances back)."""
    for part in email.message_from_string(user_data_text).walk():
        if part.get_content_type() == "application/node.eks.aws":
            # libyaml's loader when PyYAML has it: a check reading 250 nodes' user data back takes ~0.1 s, not 1 s.
            return yaml.load(part.get_payload(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return None
