"""Facts about the pinned Helm charts (offline/charts/<chart>-<version>.yaml): the values keys a chart
reads, and for the load balancer controller the annotations it accepts. Helm ignores unknown values
silently, so a misspelt key would only show on a real cluster; these facts catch it offline."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CHARTS = Path(__file__).with_name("charts")


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    """The facts file ``offline/charts/<name>.yaml`` (e.g. "tigera-operator-v3.31.7")."""
    return yaml.load((CHARTS / f"{name}.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def key_paths(values: dict, prefix: str = "") -> list[str]:
    """Every key path a values dict sets (leaves and the maps above them)."""
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict) and value:
            out += key_paths(value, path + ".")
    return out


def value_at(values, path: str, default=None):
    """The value at a dotted key path of a values dict (``default`` when any part is missing)."""
    node = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
