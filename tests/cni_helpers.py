"""Shared by the CNI tests: the chart facts and a copy of the project (its program wires the CNI)."""

from __future__ import annotations

import shutil
from pathlib import Path

from offline.chart_facts import key_paths  # noqa: F401 -- re-exported for the CNI tests
from offline.chart_facts import load as chart_facts  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def project_with_cni(directory: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    return directory
