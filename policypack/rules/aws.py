"""The field constraints AWS (or the provider, at plan time) enforces on one resource's inputs: the engine's
table (offline/aws/constraints.py: lengths, character sets, patterns, enums, quotas, each with its source),
every row, every field, before the resource is created."""

from __future__ import annotations

import os

import pulumi

from offline.aws import constraints
from offline.aws.partitions import partition_of

from ..plan import Resource, has_unknown
from ..registry import MANDATORY, Violation, resource_rule

# The stack's region, for its partition (ARNs must name it, principals end in its DNS suffix). Stack rules read it
# from the plan first (Plan.region: the subnets' zones); this is where every rule falls back to.
REGION = {"region": {"type": "string",
                     "description": "The stack's AWS region (its partition is what matters). Default: the "
                                    "stack's aws:region, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1"}}


def configured_region(config: dict) -> str:
    """The policy's ``region`` setting if given; else the stack's ``aws:region`` (the CLI starts the pack with the
    stack's config in PULUMI_CONFIG and pulumi-policy 1.21 loads it into ``pulumi.Config`` before each check);
    else the provider's own environment fallbacks; else us-east-1."""
    for region in (config.get("region"), pulumi.Config("aws").get("region"),
                   os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")):
        if isinstance(region, str) and region:
            return region
    return "us-east-1"


@resource_rule("aws-field-constraints", "Every AWS input is one AWS accepts (length, characters, pattern, enum, "
                                        "quota, partition)",
               types=["aws:*"], level=MANDATORY,
               config=REGION,
               why="AWS refuses the create or update (e.g. InvalidParameterValue, ValidationError), or the provider "
                   "refuses the plan: the update stops halfway. Values unknown during preview are judged at the "
                   "update. Mandatory.")
def check_fields(resource: Resource, config: dict):
    # pulumi-aws 7 resources carry their own region (it defaults to the provider's).
    region = resource.props.get("region")
    partition, _ = partition_of(region if isinstance(region, str) and region else configured_region(config))
    for row, where, value, problem in constraints.violations(resource.type, resource.props, partition,
                                                            skip=has_unknown):
        yield Violation(f"{resource.type} {resource.name}: {row.code}: "
                        f"{constraints.message(row, where, value, problem)}", resource.urn)
