"""The offline engine: runs the Pulumi program in-process against moto, with no CLI, account or network.

``harness`` runs the program; ``aws`` and ``kube`` simulate the services; ``checks`` judge the result
across objects; ``report`` renders it; ``python -m offline`` is the CLI.
"""

from .aws.rules import AwsRejection
from .harness.engine import OfflineEngine, RunResult

__all__ = ["AwsRejection", "OfflineEngine", "RunResult"]
