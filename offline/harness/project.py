"""Read Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI does, without the CLI.

The CLI applies the project's typed config schema (defaults, type checks) and hands the
program flat ``namespace:key`` -> string values, objects as JSON. We do the same.

The CLI parses stack files with Go's yaml.v3 (pulumi sdk/go/common/encoding/marshal.go), which reads
YAML 1.2 scalars: an unquoted ``no``, ``yes``, ``on`` or ``off`` is a string, ``12:30`` is not a number,
and a duplicate key is an error. ruamel.yaml's safe loader reads YAML 1.2 the same way (PyYAML reads
YAML 1.1: ``no`` became False). Config values are decoded untyped (sdk/go/common/resource/config/object.go
``unmarshalObject``): map keys that are not strings become their text (``1:`` -> ``"1"``), a null value
reaches the program as JSON ``null``. Known differences that remain: yaml.v3 still reads ``0777`` as
octal (511) and accepts ``1_000``; YAML 1.2 reads 777 and a string.
"""

from __future__ import annotations

import copy
import datetime
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

SECRET_PLACEHOLDER = "offline-secret-placeholder"  # `secure:` values cannot be decrypted offline

_YAML = YAML(typ="safe", pure=True)  # YAML 1.2 core schema; duplicate keys raise DuplicateKeyError


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


def parse_yaml(text: str, what: str) -> Any:
    """One YAML document, read as the Pulumi CLI reads it; ``what`` names it in errors. The same text is parsed
    once per process (ruamel's pure-Python YAML 1.2 reader is the slow part of reading a stack): a copy of it."""
    return copy.deepcopy(_parsed(text, what))


@lru_cache(maxsize=256)
def _parsed(text: str, what: str) -> Any:
    try:
        return _untyped(_YAML.load(text), what)
    except YAMLError as exc:
        # ruamel's message ends with a pointer to its own docs on duplicate keys; the first lines say it all.
        lines = [line for line in str(exc).splitlines() if line.strip() and "yaml.dev" not in line
                 and "suppress this check" not in line]
        raise ProjectError(f"{what} is not valid YAML: " + " ".join(line.strip() for line in lines)) from None


def load_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ProjectError(f"{path.name} not found in {path.parent}") from None
    data = parse_yaml(text, path.name)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path.name} must be a YAML map, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(
        type(value), "a number")


def _key_text(key: Any, where: str) -> str:
    """A map key as the CLI keeps it: Go's %v of the scalar (1 -> "1", true -> "true")."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return _number_text(key)
    shown = "null" if key is None else repr(key)
    raise ProjectError(f"{where}: map keys must be strings, got {shown}; quote the key")


def _number_text(value: int | float) -> str:
    """Numbers as Go's encoding/json writes them (2.0 -> 2)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _untyped(value: Any, where: str) -> Any:
    """Plain data as yaml.v3 decodes it into an untyped value: string keys, timestamps as their text."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = _key_text(key, where)
            if text in out:
                raise ProjectError(f"{where}: key {text!r} appears twice (once unquoted); keep one")
            out[text] = _untyped(item, f"{where}: {text}")
        return out
    if isinstance(value, list):
        return [_untyped(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        raise ProjectError(f"{where}: binary values are not config values")
    return value


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _as_program_value(value: Any) -> str:
    """Config values reach programs as strings; maps, lists and null as JSON (object.go MarshalString)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if value is None or isinstance(value, (dict, list)):
        return json.dumps(_json_ready(value), sort_keys=True)
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


def _config_map(stack_file: dict, name: str) -> dict[str, Any]:
    config = stack_file.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ProjectError(f"{name}: `config` must be a map of key: value, got {_kind(config)}")
    return config


def resolve_config(project_dir: Path, stack: str, overrides: dict[str, Any] | None = None) -> ResolvedConfig:
    project_file = load_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not project:
        raise ProjectError("Pulumi.yaml has no project name")
    stack_name = f"Pulumi.{stack}.yaml"
    stack_file = load_yaml(project_dir / stack_name)
    raw: dict[str, Any] = {_qualify(k, project): v for k, v in _config_map(stack_file, stack_name).items()}
    raw.update({_qualify(k, project): v
                for k, v in _untyped(dict(overrides or {}), "--config").items()})

    secret_keys = []
    for key, value in list(raw.items()):
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)

    for key, decl in (project_file.get("config") or {}).items():
        full = _qualify(key, project)
        if not isinstance(decl, dict) or "type" not in decl:
            value = decl.get("value") if isinstance(decl, dict) else decl
            if value is not None:
                raw.setdefault(full, value)
            continue
        if full not in raw:
            if "default" not in decl:
                raise ProjectError(f"Stack '{stack}' missing configuration value '{key}'")
            raw[full] = decl["default"]
        if full not in secret_keys and not _TYPE_CHECKS[decl["type"]](raw[full]):
            raise ProjectError(f"Stack '{stack}' with configuration key '{key}' must be of type '{decl['type']}'")
        if decl.get("secret") and full not in secret_keys:
            secret_keys.append(full)

    values = {key: _as_program_value(v) for key, v in sorted(raw.items())}
    return ResolvedConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys))
