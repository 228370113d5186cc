"""Which partition (and DNS suffix) each region is in, and which regions the engine simulates, from the endpoint
data botocore ships (what the SDKs and the provider resolve regions with). No moto here: the policy pack, which
checks real previews in a virtualenv of its own, uses these without loading moto (~1 s of its boot).

The regions are the ones moto models: EC2's regions in every partition botocore lists, what moto 5.2.5's
``BackendDict._generate_regions("ec2")`` asks botocore for (tests/test_engine_costs.py compares them).
"""

from __future__ import annotations

from functools import lru_cache

from .region_lists import session


@lru_cache(maxsize=1)
def _partitions() -> dict[str, tuple[str, str]]:
    """region -> (partition, DNS suffix), for the regions the engine simulates (every partition botocore lists:
    aws, aws-cn, aws-us-gov and the others moto also builds backends for)."""
    botocore = session()
    modelled = {region for partition in botocore.get_available_partitions()
                for region in botocore.get_available_regions("ec2", partition_name=partition)}
    data = botocore.get_component("data_loader").load_data("endpoints")
    return {region: (p["partition"], p["dnsSuffix"]) for p in data["partitions"] for region in p["regions"]
            if region in modelled}


def partition_of(region: str) -> tuple[str, str]:
    """(partition, DNS suffix) of a region the engine knows."""
    return _partitions()[region]


def region_problem(region: str) -> str | None:
    """Why the engine cannot simulate ``region`` (the provider would refuse it too), or None."""
    if region in _partitions():
        return None
    return (f"{region!r} is not an AWS region the offline engine knows; use one like us-east-1, eu-west-1 "
            "or cn-north-1")
