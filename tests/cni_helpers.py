"""Shared by the CNI tests: a copy of the project (its program wires the CNI)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_with_cni(directory: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    return directory
