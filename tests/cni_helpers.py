"""Shared by the CNI tests: the chart facts and a copy of the project whose program wires the CNI
the way the lead's __main__.py will (the repo's __main__.py plus the CNI component)."""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHARTS = ROOT / "offline" / "charts"

CNI_WIRING = '''

# --- CNI (what the lead adds to __main__.py) ---
import pulumi_kubernetes as k8s
from components.calico import Calico, CalicoArgs
from components.flannel import Flannel, FlannelArgs

kube = k8s.Provider("k8s", kubeconfig="{}")
node_blocks = {name: str(block) for name, block in blocks.items()}
if cfg.cni == "calico":
    Calico("calico", CalicoArgs(node_blocks=node_blocks, encapsulation=cfg.encapsulation, provider=kube))
else:
    Flannel("flannel", FlannelArgs(node_blocks=node_blocks, pod_cidr=str(cfg.pod_cidr),
                                   encapsulation=cfg.encapsulation, network_policy=True, provider=kube))
'''


def project_with_cni(directory: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, directory / name)
    (directory / "__main__.py").write_text((ROOT / "__main__.py").read_text() + CNI_WIRING)
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
