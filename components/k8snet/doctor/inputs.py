"""What the doctor checks against: the stack's outputs and its config, from the Pulumi CLI or from files.

    pulumi stack output --json --show-secrets --stack dev     # --outputs FILE: that JSON saved
    pulumi config --json --show-secrets --stack dev           # --config-file FILE: Pulumi.<stack>.yaml

The config goes through the program's own parser (k8snet.config), so the doctor expects what ``pulumi up``
built: the CNI, the encapsulation (pod routes or none), the Corefile.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, StackConfig, parse_program_config


class InputError(Exception):
    """The outputs or config could not be read (exit status 2, like an invalid config in the preview)."""


def _pulumi(args: list[str], cwd: Path) -> Any:
    try:
        done = subprocess.run(["pulumi", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputError("the pulumi CLI is not on PATH; pass --outputs and --config-file instead") from None
    if done.returncode != 0:
        raise InputError(f"pulumi {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout or "{}")


def stack_outputs(stack: str, file: Path | None = None, cwd: Path = Path.cwd()) -> dict:
    if file is not None:
        return json.loads(Path(file).read_text())
    return _pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack], cwd)


def _as_program_value(value: Any) -> str:
    """How the CLI hands a config value to a program: strings; numbers and booleans as text; maps and lists
    as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, file: Path | None = None, cwd: Path = Path.cwd()) -> StackConfig:
    if file is not None:
        raw = (yaml.safe_load(Path(file).read_text()) or {}).get("config") or {}
        values = {k: _as_program_value(v) for k, v in raw.items()}
    else:
        listed = _pulumi(["config", "--json", "--show-secrets", "--stack", stack], cwd)
        values = {k: _as_program_value(v["objectValue"] if "objectValue" in v else v.get("value", ""))
                  for k, v in listed.items()}
    try:
        return parse_program_config(values, stack)
    except ConfigError as exc:
        raise InputError(str(exc)) from None
