"""The field constraints AWS (or the provider, at plan time) enforces on one resource's inputs: the engine's
table (offline/aws/constraints.py: lengths, character sets, patterns, enums, quotas, each with its source),
every row, every field, before the resource is created."""

from __future__ import annotations

from offline.aws import constraints
from offline.aws.context import partition_of

from ..plan import Resource, has_unknown
from ..registry import MANDATORY, Violation, resource_rule

# The stack's region, for its partition (ARNs must name it, principals end in its DNS suffix). A policy sees no
# stack config: a resource rule reads this setting (any region of the partition will do); stack rules read the
# region from the plan (Plan.region) and fall back to it.
REGION = {"region": {"type": "string", "default": "us-east-1",
                     "description": "The stack's AWS region (its partition is what matters); stack rules take it "
                                    "from the subnets' zones when the stack has subnets"}}


@resource_rule("aws-field-constraints", "Every AWS input is one AWS accepts (length, characters, pattern, enum, "
                                        "quota, partition)",
               types=["aws:*"], level=MANDATORY,
               config=REGION,
               why="AWS refuses the create or update (e.g. InvalidParameterValue, ValidationError), or the provider "
                   "refuses the plan: the update stops halfway. Values unknown during preview are judged at the "
                   "update. Mandatory.")
def check_fields(resource: Resource, config: dict):
    partition, _ = partition_of(config["region"])
    for row, where, value, problem in constraints.violations(resource.type, resource.props, partition,
                                                            skip=has_unknown):
        yield Violation(f"{resource.type} {resource.name}: {row.code}: "
                        f"{constraints.message(row, where, value, problem)}", resource.urn)
