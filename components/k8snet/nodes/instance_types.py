"""EC2 instance types as the region reports them: which exist there, and each one's vCPUs, memory and
architectures (kubelet's maxPods and the AMI follow from them). Invokes only, no resources."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    architectures: tuple[str, ...]  # "x86_64", "arm64", ...

    @property
    def architecture(self) -> str:
        """The EKS AMI architecture for this type: arm64 for Graviton, else x86_64."""
        return "arm64" if "arm64" in self.architectures else "x86_64"


@dataclass(frozen=True)
class Offered:
    """What the region answered for the requested types."""

    region: str
    types: dict[str, InstanceType]  # the requested types the region offers
    similar: dict[str, tuple[str, ...]] = field(default_factory=dict)  # missing type -> offered look-alikes

    def problem(self, name: str) -> str | None:
        """Why ``name`` cannot be launched here (None if it can)."""
        if name in self.types:
            return None
        hint = f"; did you mean {' or '.join(self.similar[name])}?" if self.similar.get(name) else ""
        return f"{name!r} is not an EC2 instance type offered in {self.region}{hint}"


def lookup(names: Iterable[str], region: str, parent=None) -> Offered:
    """Ask EC2 (DescribeInstanceTypeOfferings, then DescribeInstanceTypes for the ones offered) with the
    provider of ``parent`` if given. Unknown types cost one more offerings call, for suggestions."""
    import pulumi
    import pulumi_aws as aws

    opts = pulumi.InvokeOptions(parent=parent) if parent is not None else None
    wanted = sorted(set(names))

    def offered(values: list[str]) -> list[str]:
        result = aws.ec2.get_instance_type_offerings(
            location_type="region",
            filters=[aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type", values=values)], opts=opts)
        return list(result.instance_types)

    available = set(offered(wanted)) if wanted else set()
    types = {}
    for name in sorted(available):
        info = aws.ec2.get_instance_type(instance_type=name, opts=opts)
        types[name] = InstanceType(name, int(info.default_vcpus), int(info.memory_size),
                                   tuple(info.supported_architectures))
    missing = [n for n in wanted if n not in available]
    similar = {}
    if missing:
        # Offered types of the same families (t3.*), or every type, to suggest the closest names.
        families = sorted({f"{n.split('.', 1)[0]}.*" for n in missing})
        candidates = offered(families) or offered(["*"])
        similar = {n: tuple(difflib.get_close_matches(n, candidates, n=2)) for n in missing}
    return Offered(region, types, similar)
