"""The nodes' join as nodeadm will run it: the NodeConfig in each instance's user data, read back.

nodeadm sizes kube-reserved memory (11 MiB a pod + 255 MiB) from its own max-pods figure: the result of
``spec.kubelet.maxPodsExpression`` if set, else the instance type's ENI formula (default card's ENIs x
(IPv4 addresses per ENI - 1) + 2: 17 on a t3.medium), never from ``kubelet.config.maxPods``, which kubelet
obeys (amazon-eks-ami nodeadm/internal/kubelet/config.go withDefaultReservedResources, eni_max_pods.go).
A node whose kubelet admits more pods than the reservation was sized for runs them on memory it promised
to kubelet and containerd; one that reserves for far more than it runs wastes the instance.
"""

from __future__ import annotations

import json
import re

from k8snet.nodes import nodeadm

from ..aws import instance_types

INSTANCE = "aws:ec2/instance:Instance"


def nodeadm_max_pods(instance_type: str, expression: str | None) -> int:
    """The figure nodeadm reserves for: a constant expression, else the ENI formula (110 if unknown)."""
    if expression:
        if not re.fullmatch(r"\s*\d+\s*", expression):
            raise ValueError(f"the engine evaluates only constant maxPodsExpressions, got {expression!r}")
        return int(expression)
    info = instance_types.table().get(instance_type)
    if info is None:
        return 110  # nodeadm's fallback (eni_max_pods.go defaultMaxPods)
    network = info["NetworkInfo"]
    card = network.get("DefaultNetworkCardIndex", 0)
    enis = network["NetworkCards"][card]["MaximumNetworkInterfaces"] if network.get("NetworkCards") \
        else network["MaximumNetworkInterfaces"]
    return enis * (network["Ipv4AddressesPerInterface"] - 1) + 2


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    if not match:
        raise ValueError(f"unexpected memory quantity {quantity!r}")
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def kubelet_problems(name: str, instance_type: str, node_config: dict) -> list[str]:
    """What is wrong with one node's kubelet sizing (empty when kubelet's maxPods and nodeadm's
    reservation agree and the reservation leaves the instance three quarters of its memory)."""
    kubelet = node_config.get("spec", {}).get("kubelet", {})
    config = kubelet.get("config") or {}
    sized_for = nodeadm_max_pods(instance_type, kubelet.get("maxPodsExpression"))
    runs = int(config.get("maxPods", sized_for))
    reserved = (_mebibytes(config["kubeReserved"]["memory"]) if "memory" in (config.get("kubeReserved") or {})
                else nodeadm.kube_reserved_memory_mib(sized_for))
    problems = []
    if "memory" not in (config.get("kubeReserved") or {}) and runs != sized_for:
        problems.append(f"{name}: kubelet admits {runs} pods but nodeadm reserves kube-reserved memory for "
                        f"{sized_for} ({reserved} MiB, 11 MiB a pod + 255); set maxPodsExpression to the same figure")
    memory = instance_types.table().get(instance_type, {}).get("MemoryInfo", {}).get("SizeInMiB")
    if memory and reserved * nodeadm.MEMORY_SHARE > memory:
        problems.append(f"{name}: kube-reserved memory {reserved} MiB is more than a quarter of the {instance_type}'s "
                        f"{memory} MiB; lower maxPods")
    return problems


def check_run(result) -> list[str]:
    problems = []
    for record in result.of_type(INSTANCE):
        user_data = record.inputs.get("userData")
        node_config = nodeadm.node_config_of(user_data) if isinstance(user_data, str) else None
        if node_config is not None:
            problems += kubelet_problems(record.name, record.inputs["instanceType"], node_config)
    return problems + node_role_problems(result)


def node_role_problems(result) -> list[str]:
    """Every node's instance profile role must trust EC2's principal in the region's partition
    (ec2.amazonaws.com.cn in China): IAM accepts ec2.amazonaws.com there, but EC2 cannot assume the role,
    so the node gets no credentials and never joins (awslabs/cdk-eks-blueprints#558)."""
    from offline.aws.partitions import partition_of

    _, dns_suffix = partition_of(result.config.get("aws:region"))
    wanted = f"ec2.{dns_suffix}"
    by_name = {(r.type, r.outputs.get("name")): r for r in result.resources if r.outputs.get("name")}
    problems = []
    for record in result.of_type(INSTANCE):
        profile = by_name.get(("aws:iam/instanceProfile:InstanceProfile", record.inputs.get("iamInstanceProfile")))
        role = by_name.get(("aws:iam/role:Role", profile.inputs.get("role"))) if profile else None
        if role is None:
            continue
        principals = [st.get("Principal", {}).get("Service") for st in json.loads(role.inputs["assumeRolePolicy"])["Statement"]]
        flat = {p for ps in principals for p in ([ps] if isinstance(ps, str) else ps or [])}
        if wanted not in flat:
            problems.append(f"{record.name}: its role {role.outputs['name']} trusts {sorted(flat)}, not {wanted}; "
                            "EC2 cannot give the node credentials")
    return problems
