"""Read Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI does, without the CLI.

The CLI applies the project's typed config schema (defaults, type checks) and hands the
program flat ``namespace:key`` -> string values, objects as JSON. We do the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-secret-placeholder"  # `secure:` values cannot be decrypted offline


class ProjectError(Exception):
    """The project or stack file is missing or malformed (what the CLI would refuse)."""


@dataclass(frozen=True)
class ResolvedConfig:
    project: str
    stack: str
    values: dict[str, str]  # namespace:key -> value as the program receives it
    secret_keys: list[str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ProjectError(f"{path.name} not found in {path.parent}") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path.name} must be a YAML map")
    return data


def _as_program_value(value: Any) -> str:
    """Config values reach programs as strings; maps and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


_TYPE_CHECKS = {
    # Stack files hold YAML scalars; the CLI passes any scalar to a string key as its text.
    "string": lambda v: isinstance(v, (str, int, float)),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or (isinstance(v, str) and v.lstrip("-").isdigit()),
    "boolean": lambda v: isinstance(v, bool) or v in ("true", "false"),
    "array": lambda v: isinstance(v, list),
}


def resolve_config(project_dir: Path, stack: str, overrides: dict[str, Any] | None = None) -> ResolvedConfig:
    project_file = load_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not project:
        raise ProjectError("Pulumi.yaml has no project name")
    stack_file = load_yaml(project_dir / f"Pulumi.{stack}.yaml")
    raw: dict[str, Any] = {_qualify(k, project): v for k, v in (stack_file.get("config") or {}).items()}
    raw.update({_qualify(k, project): v for k, v in (overrides or {}).items()})

    secret_keys = []
    for key, value in list(raw.items()):
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)

    for key, decl in (project_file.get("config") or {}).items():
        full = _qualify(key, project)
        if not isinstance(decl, dict) or "type" not in decl:
            raw.setdefault(full, decl.get("value") if isinstance(decl, dict) else decl)
            continue
        if full not in raw:
            if "default" not in decl:
                raise ProjectError(f"Stack '{stack}' missing configuration value '{key}'")
            raw[full] = decl["default"]
        if full not in secret_keys and not _TYPE_CHECKS[decl["type"]](raw[full]):
            raise ProjectError(f"Stack '{stack}' with configuration key '{key}' must be of type '{decl['type']}'")
        if decl.get("secret") and full not in secret_keys:
            secret_keys.append(full)

    values = {key: _as_program_value(v) for key, v in sorted(raw.items()) if v is not None}
    return ResolvedConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys))
