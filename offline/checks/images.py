"""Every container of every object a run registered names its image by tag and digest.

A tag alone can be re-pushed: the node would run whatever the registry serves that day (CIS EKS 5.1,
checkov CKV_K8S_43). ``repo:tag@sha256:<64 hex>`` keeps the tag readable and pins the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

PINNED = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[\w][\w.-]{0,127}@sha256:[0-9a-f]{64}$")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_specs(obj: dict) -> Iterator[dict]:
    """The pod spec(s) an object runs: a Pod's own, a workload's template, a CronJob's job template."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        yield ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    elif isinstance(spec.get("template"), dict):
        yield spec["template"].get("spec") or {}


def unpinned_images(objects: Iterable[dict]) -> list[str]:
    """One line per container whose image is not ``registry/repository:tag@sha256:<digest>``."""
    problems = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
        for spec in pod_specs(obj):
            for field in _CONTAINER_LISTS:
                for c in spec.get(field) or []:
                    image = c.get("image") or ""
                    if not PINNED.match(image):
                        problems.append(f"{where} container {c.get('name')}: image {image!r} is not pinned as "
                                        "registry/repository:tag@sha256:<digest> (k8snet/shared/images.py)")
    return problems
