"""Availability zones: which ones the stack uses and which zone each node lands in."""

from __future__ import annotations

from collections.abc import Sequence

from ..network import addressing
from .errors import ConfigError
from .stack_config import NodeSpec


def select_zones(count: int, available: Sequence[str]) -> list[str]:
    """The first ``count`` zones by name: stable as long as the region keeps its zones."""
    zones = sorted(available)
    if count > len(zones):
        raise ConfigError(
            f"availabilityZones: {count} requested but the region offers {len(zones)} "
            f"({', '.join(zones)}); lower availabilityZones"
        )
    return zones[:count]


def assign_zones(nodes: Sequence[NodeSpec], zones: Sequence[str]) -> dict[str, str]:
    """node name -> zone: the node's own ``zone`` if set, else round-robin on its index."""
    problems = [
        f"nodes.{n.name}.zone: {n.zone!r} is not one of this stack's zones ({', '.join(zones)}); "
        "pick one of those or raise availabilityZones"
        for n in nodes
        if n.zone is not None and n.zone not in zones
    ]
    if problems:
        raise ConfigError(problems)
    return {n.name: n.zone or zones[addressing.zone_slot(n.index, len(zones))] for n in nodes}


def lookup_zones(parent=None) -> list[str]:
    """Ask AWS (an invoke, not a resource; with the provider of ``parent`` if given) for the region's
    standard zones.

    Local Zones and Wavelength Zones are opt-in and cannot host EKS control-plane ENIs,
    so only zones whose opt-in status is 'opt-in-not-required' qualify.
    """
    import pulumi
    import pulumi_aws as aws

    result = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=pulumi.InvokeOptions(parent=parent) if parent is not None else None,
    )
    return list(result.names)
