"""The offline engine: runs the Pulumi program in-process against moto, with no CLI, account or network."""

from .aws_rules import AwsRejection
from .engine import OfflineEngine, RunResult

__all__ = ["AwsRejection", "OfflineEngine", "RunResult"]
