"""The offline engine: runs the Pulumi program in-process against moto, with no CLI, account or network.

``harness`` runs the program; ``aws`` and ``kube`` simulate the services; ``checks`` judge the result
across objects; ``report`` renders it; ``python -m offline`` is the CLI.
"""

# Imported on first use (PEP 562): the policy pack imports the pure checks (offline.checks.app, offline.kube.schemas)
# without moto or boto3, which the engine needs; and `python -m offline` runs this file before its __main__,
# which sets up the garbage collector for the imports (harness/gc_policy.py) before moto and the SDK load.
_EXPORTS = {"AwsRejection": ".aws.rules", "OfflineEngine": ".harness.engine", "RunResult": ".harness.engine"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'offline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
