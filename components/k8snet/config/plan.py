"""The plan: validated config, the region and its zones, each node's zone and pod block, and the instance
types the region offers. Everything that can refuse a stack is checked here, before the first resource is
registered."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_network

from ..ingress.settings import region_problem
from ..nodes import nodeadm
from ..nodes.instance_types import InstanceType, Offered, lookup as lookup_instance_types
from . import security
from .errors import ConfigError
from .stack_config import StackConfig, load_stack_config
from .zones import assign_zones, lookup_zones, select_zones


@dataclass(frozen=True)
class Plan:
    config: StackConfig
    region: str
    zones: tuple[str, ...]  # the stack's availability zones, sorted by name
    node_zones: dict[str, str]  # node name -> zone
    instance_types: dict[str, InstanceType] = field(default_factory=dict)  # the nodes' types
    warnings: tuple[str, ...] = ()  # weaker choices the stack made on purpose: the preview prints them

    @property
    def node_blocks(self) -> dict[str, str]:
        """node name -> its pod block (10.1.N.0/24)."""
        return {name: str(block) for name, block in self.config.pod_blocks.items()}


def plan(config: StackConfig, region: str, available_zones: Sequence[str],
         offered: Offered | None = None, caller_arn: str | None = None) -> Plan:
    """Pure: the plan for ``config`` in ``region``, whose standard zones are ``available_zones`` and whose
    instance type offerings are ``offered`` (None: not looked up, e.g. in unit tests); ``caller_arn``: the
    identity running pulumi (checked against adminPrincipalArns)."""
    problems = []
    if (problem := region_problem(config.ingress, region)) is not None:
        problems.append(f"ingress.certificateArn: {problem}")
    problems += security.region_problems(config, region)
    if offered is not None:
        problems += _instance_type_problems(config, offered)
    if problems:
        raise ConfigError(problems)
    zones = select_zones(config.availability_zones, available_zones)
    return Plan(config, region, tuple(zones), assign_zones(config.nodes, zones),
                dict(offered.types) if offered is not None else {}, tuple(security.warnings(config, caller_arn)))


def _instance_type_problems(config: StackConfig, offered: Offered) -> list[str]:
    """Types the region does not offer (the default reported once), and types too small for the stack."""
    problems = []
    if (problem := offered.problem(config.instance_type)) is not None:
        problems.append(f"instanceType: {problem}")
    for node in config.nodes:
        kind = offered.types.get(node.instance_type)
        key = f"nodes.{node.name}.instanceType"
        if kind is None:
            if node.instance_type != config.instance_type:
                problems.append(f"{key}: {offered.problem(node.instance_type)}")
            continue
        pods = nodeadm.max_pods(ip_network(config.pod_blocks[node.name]), kind.vcpus, kind.memory_mib)
        if pods < nodeadm.MIN_MAX_PODS:
            problems.append(f"{key if node.instance_type != config.instance_type else 'instanceType'}: "
                            f"{kind.name} ({kind.memory_mib} MiB) runs only {pods} pods with nodeadm's kube-reserved "
                            "memory (11 MiB a pod + 255 MiB) kept within a quarter of it; the stack needs at least "
                            f"{nodeadm.MIN_MAX_PODS} per node: use a larger type (t3.small or up)")
    return list(dict.fromkeys(problems))  # a too-small default type is reported once


def lookup_plan(config: StackConfig, region: str, parent=None) -> Plan:
    """The plan, after asking AWS (invokes, with the provider of ``parent`` if given) for the region's
    zones and for the nodes' instance types."""
    types = {config.instance_type, *(n.instance_type for n in config.nodes)}
    caller = None
    if config.admin_principal_arns:  # who runs pulumi: must it be listed? (k8snet/cluster/access.py)
        import pulumi
        import pulumi_aws as aws

        caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=parent)).arn
    return plan(config, region, lookup_zones(parent), lookup_instance_types(types, region, parent), caller)


def load_plan() -> Plan:
    """The running program's plan: its config, ``aws:region``, the region's zones and instance types."""
    import pulumi

    config = load_stack_config()
    region = pulumi.Config("aws").require("region")
    return lookup_plan(config, region)
