"""What a Helm release puts into the cluster, and who owns it, from the pinned charts' facts
(offline/checks/charts/<chart>-<version>.yaml: ``rendered``, ``createdAtRuntime``).

``install`` renders the release's objects (owner ``helm:<release>``; Helm refuses one someone else owns,
as ``helm install/upgrade`` does with "exists and cannot be imported into the current release") and then
lets the chart's components create what they create at run time when it is absent (owner: the component;
if it exists they only set their own fields). ``upgrade`` re-renders: objects no longer rendered are
deleted, new ones must be free. A chart without facts renders nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

from .api_server import KubeContext, KubeRejection

# The pinned charts' facts files: data the checks read too (offline/checks/chart_facts.py); read here by
# path, as the API-server model sits below the checks.
CHART_FACTS = Path(__file__).parents[1] / "checks" / "charts"

@lru_cache(maxsize=None)
def load_facts(name: str) -> dict:
    """The facts file ``<name>.yaml`` (e.g. "tigera-operator-v3.31.7")."""
    return yaml.load((CHART_FACTS / f"{name}.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def facts(chart: str, version: str) -> dict:
    """The chart's facts, or nothing for a chart without a facts file."""
    name = f"{chart}-{version}"
    return load_facts(name) if (CHART_FACTS / f"{name}.yaml").exists() else {}


def value_at(values, path: str, default=None):
    """The value at a dotted key path of a values dict (``default`` when any part is missing)."""
    node = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def rendered(chart: str, version: str, values: Mapping) -> list[dict]:
    """The cluster objects the chart's templates render from ``values`` (those its facts list)."""
    out = []
    for obj in facts(chart, version).get("rendered") or []:
        if value_at(values, obj["when"], obj["default"]):
            # The templates render the switch's map, minus "enabled", as the spec.
            given = value_at(values, obj["when"].rsplit(".", 1)[0], {})
            spec = {k: v for k, v in given.items() if k != "enabled"} if isinstance(given, Mapping) else {}
            out.append({"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": {"name": obj["name"]},
                        "spec": spec})
    return out


def _key(obj: Mapping) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta.get("name") or ""


def _claim(kube: KubeContext, release: str, objs: list[dict]) -> None:
    owner = f"helm:{release}"
    for obj in objs:
        key = _key(obj)
        held = kube.owners.get(key)
        if held is not None and held != owner:
            raise KubeRejection("AlreadyExists", f"helm release {release}: rendered manifests contain a resource "
                                f"that already exists. Unable to continue: {key[1]} {key[3]!r} exists and cannot "
                                f"be imported into the current release: invalid ownership metadata (created by "
                                f"{held.split(':', 1)[-1]}, not by Helm)")
    for obj in objs:
        if kube.owners.get(_key(obj)) != owner:
            kube.place(obj, owner)


def created_at_runtime(chart: str, version: str) -> list[dict]:
    """The objects the chart's components create when they start, as they create them (a policy pack's plan
    holds no API server)."""
    return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": {"name": obj["name"]},
             "spec": dict(obj.get("fields") or {})} for obj in facts(chart, version).get("createdAtRuntime") or []]


def _run_time(kube: KubeContext, chart: str, version: str) -> None:
    for obj, created in zip(facts(chart, version).get("createdAtRuntime") or [], created_at_runtime(chart, version)):
        key = (obj["apiVersion"], obj["kind"], "", obj["name"])
        fields = {f"spec.{k}": obj["by"] for k in obj.get("fields") or {}}
        if key not in kube.objects:
            kube.place(created, obj["by"], fields)
        else:  # it exists (Helm's, or patched in first): the component sets only its own unset fields
            current = kube.objects[key]
            spec = {**(obj.get("fields") or {}), **(current.get("spec") or {})}
            kube.objects[key] = {**current, "spec": spec}
            held = kube.managers.setdefault(key, {})
            for path, by in fields.items():
                held.setdefault(path, by)


def install(kube: KubeContext, inputs: Mapping) -> None:
    """``helm install``: the release's objects, then what its components create at run time."""
    chart, version = inputs.get("chart", ""), inputs.get("version", "")
    release = inputs.get("name") or chart
    _claim(kube, release, rendered(chart, version, inputs.get("values") or {}))
    _run_time(kube, chart, version)


def upgrade(kube: KubeContext, old: Mapping, new: Mapping) -> None:
    """``helm upgrade``: new objects must be free; objects no longer rendered are deleted."""
    chart, version = new.get("chart", ""), new.get("version", "")
    release = new.get("name") or chart
    wanted = rendered(chart, version, new.get("values") or {})
    _claim(kube, release, wanted)
    keep = {_key(o) for o in wanted}
    for key, owner in list(kube.owners.items()):
        if owner == f"helm:{release}" and key not in keep:
            kube.objects.pop(key, None)
            kube.owners.pop(key, None)
            kube.managers.pop(key, None)
    _run_time(kube, chart, version)


def uninstall(kube: KubeContext, inputs: Mapping) -> None:
    release = inputs.get("name") or inputs.get("chart", "")
    for key, owner in list(kube.owners.items()):
        if owner == f"helm:{release}":
            kube.objects.pop(key, None)
            kube.owners.pop(key, None)
            kube.managers.pop(key, None)
