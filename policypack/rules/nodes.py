"""The nodes' join as nodeadm will run it (offline/checks/nodes.py: kubelet's maxPods and nodeadm's
kube-reserved memory from one figure) and the node role EC2 must be able to assume, over the plan."""

from __future__ import annotations

import json

from k8snet.nodes import nodeadm
from offline.aws.partitions import partition_of
from offline.checks import nodes as node_checks

from ..plan import Plan, known
from ..registry import MANDATORY, Violation, stack_rule
from .aws import REGION, configured_region
from .network import INSTANCE

PROFILE, ROLE = "aws:iam/instanceProfile:InstanceProfile", "aws:iam/role:Role"


@stack_rule("node-kubelet-sizing", "kubelet admits as many pods as nodeadm reserved memory for, and the reservation "
                                   "leaves the instance three quarters of its memory",
            level=MANDATORY,
            why="A kubelet admitting more pods than nodeadm reserved memory for runs them on memory promised to "
                "kubelet and containerd (evictions, OOM kills under load). Mandatory.")
def check_kubelet(plan: Plan, config: dict):
    for instance in plan.of_type(INSTANCE):
        with plan.checking(f"instance {instance.name}: userData"):
            user_data = known(instance.props.get("userData"), "userData")
            node_config = nodeadm.node_config_of(user_data) if isinstance(user_data, str) else None
            if node_config is not None:
                kind = known(instance.props.get("instanceType"), "instanceType")
                for problem in node_checks.kubelet_problems(instance.name, kind, node_config):
                    yield Violation(problem, instance.urn)


@stack_rule("node-role-trust", "Every node's instance-profile role trusts EC2's service principal of the partition",
            level=MANDATORY,
            config=REGION,
            why="IAM accepts a role trusting another partition's EC2 principal, but EC2 cannot assume it: the node "
                "gets no credentials and never joins. Mandatory.")
def check_node_role(plan: Plan, config: dict):
    # As offline/checks/nodes.py: ec2.amazonaws.com.cn in China.
    wanted = f"ec2.{partition_of(plan.region(configured_region(config)))[1]}"
    for instance in plan.of_type(INSTANCE):
        for profile in plan.deps(instance, "iamInstanceProfile", PROFILE):
            for role in plan.deps(profile, "role", ROLE):
                with plan.checking(f"role {role.name}: assumeRolePolicy"):
                    document = json.loads(known(role.props.get("assumeRolePolicy"), "assumeRolePolicy"))
                    services = [st.get("Principal", {}).get("Service") for st in document.get("Statement", [])]
                    flat = {p for ps in services for p in ([ps] if isinstance(ps, str) else ps or [])}
                    if wanted not in flat:
                        yield Violation(f"{instance.name}: its role {role.name} trusts {sorted(flat)}, not {wanted}; "
                                        "EC2 cannot give the node credentials", role.urn)
