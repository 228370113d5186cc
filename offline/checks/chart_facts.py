"""Facts about the pinned Helm charts (offline/checks/charts/<chart>-<version>.yaml): the values keys a chart
reads, and for the load balancer controller the annotations it accepts. Helm ignores unknown values
silently, so a misspelt key would only show on a real cluster; these facts catch it offline. The
API-server model (offline/kube/helm.py, a layer below) reads the same files to render releases; loading and
the dotted-path lookup live there."""

from __future__ import annotations

from ..kube.helm import CHART_FACTS as CHARTS  # noqa: F401 -- the facts directory
from ..kube.helm import load_facts as load  # noqa: F401 -- load("tigera-operator-v3.31.7")
from ..kube.helm import value_at  # noqa: F401 -- one dotted-path lookup for the checks and the Helm model


def key_paths(values: dict, prefix: str = "") -> list[str]:
    """Every key path a values dict sets (leaves and the maps above them)."""
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict) and value:
            out += key_paths(value, path + ".")
    return out

