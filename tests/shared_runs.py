"""The session's shared engine runs, one per configuration the program sees (conftest.py's `stack_run`).

A module of its own, not conftest.py, so that helpers outside fixtures (tests/flows_models.py) share the same
runs: pytest imports conftest.py as `conftest`, the tests import `tests.*`, and one dict must serve both.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_runs: dict[str, tuple] = {}  # run key -> (result, engine), open until the session ends


def shared_run(config: dict | None = None, stack: str = "dev", project_dir: Path = ROOT, **engine_options):
    """(result, engine) of that configuration, made on first use; read it, never change it (see conftest.py)."""
    key = _run_key(project_dir, stack, config, engine_options)
    if key not in _runs:
        from offline import OfflineEngine

        engine = OfflineEngine(project_dir, stack, config, **engine_options).__enter__()
        _runs[key] = (engine.run(), engine)
    return _runs[key]


def close_all() -> None:
    while _runs:
        _, engine = _runs.popitem()[1]
        engine.__exit__(None, None, None)


def _run_key(project_dir: Path, stack: str, config: dict | None, engine_options: dict) -> str:
    """Overrides that leave the program the same configuration ({"cni": "calico"} on the dev stack, which
    has it) share a run: the key is the configuration the program would see."""
    from offline.harness.project import ProjectError, resolve_config

    try:
        resolved = resolve_config(project_dir, stack, config or {})
        seen = [resolved.values, resolved.secret_keys]
    except ProjectError:
        seen = [config or {}]
    return json.dumps([str(project_dir), stack, seen, engine_options], sort_keys=True, default=str)
