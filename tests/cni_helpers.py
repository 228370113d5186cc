"""Shared by the CNI tests: the chart facts and a copy of the project (its program wires the CNI)."""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHARTS = ROOT / "offline" / "charts"

def project_with_cni(directory: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    return directory


@lru_cache(maxsize=None)
def chart_facts(name: str) -> dict:
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
