"""The one front door: the stack's config parsed and validated (``stack_config``: the schema, every
problem reported at once), the region's zones and each node's zone (``zones``), and the ``Plan`` the
stack is built from (``plan``). Nothing here registers a resource."""

from .errors import ConfigError
from .plan import Plan, load_plan, lookup_plan, plan
from .stack_config import SCHEMA, NodeSpec, StackConfig, load_stack_config, parse_config, parse_program_config

__all__ = ["SCHEMA", "ConfigError", "NodeSpec", "Plan", "StackConfig", "load_plan", "load_stack_config", "lookup_plan",
           "parse_config", "parse_program_config", "plan"]
