"""The plan: validated config, the region and its zones, each node's zone and pod block. Everything that can
refuse a stack is checked here, before the first resource is registered."""

from collections.abc import Sequence
from dataclasses import dataclass

from ..ingress.settings import region_problem
from .errors import ConfigError
from .stack_config import StackConfig, load_stack_config
from .zones import assign_zones, lookup_zones, select_zones


@dataclass(frozen=True)
class Plan:
    config: StackConfig
    region: str
    zones: tuple[str, ...]  # the stack's availability zones, sorted by name
    node_zones: dict[str, str]  # node name -> zone

    @property
    def node_blocks(self) -> dict[str, str]:
        """node name -> its pod block (10.1.N.0/24)."""
        return {name: str(block) for name, block in self.config.pod_blocks.items()}


def plan(config: StackConfig, region: str, available_zones: Sequence[str]) -> Plan:
    """Pure: the plan for ``config`` in ``region``, whose standard zones are ``available_zones``."""
    if (problem := region_problem(config.ingress, region)) is not None:
        raise ConfigError(f"ingress.certificateArn: {problem}")
    zones = select_zones(config.availability_zones, available_zones)
    return Plan(config, region, tuple(zones), assign_zones(config.nodes, zones))


def load_plan() -> Plan:
    """The running program's plan: its config, ``aws:region`` and the region's zones (an invoke)."""
    import pulumi

    config = load_stack_config()
    region = pulumi.Config("aws").require("region")
    return plan(config, region, lookup_zones())
