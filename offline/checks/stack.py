"""The run's stack config, read through the program's own config package (defaults live there only)."""

from __future__ import annotations

from k8snet.config import StackConfig, parse_program_config


def stack_config(result) -> StackConfig:
    """The validated config of a finished run (``result.config``: values as the program received them)."""
    return parse_program_config(result.config.values, result.config.stack)
