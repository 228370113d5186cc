"""Kubernetes objects checked the way the API server would: built-in kinds against the official
OpenAPI schemas shipped by kubernetes-validate (strict: unknown fields are errors), custom
resources against the CRD schemas vendored in ``offline/crds/`` (each file names its source).

kubernetes-validate's own ``validate()`` re-reads the schema files on every call (~7 ms) and
stops at the first error; this keeps one compiled validator per kind (~0.2 ms) and lists all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

CRD_DIR = Path(__file__).parent / "crds"
_SCHEMAS = resources.files("kubernetes_validate") / "kubernetes-json-schema"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: the same data, ~10x faster
# Patch objects (NodePatch, …) carry only the fields they set: required-ness is not checked.
_PartialValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"required": lambda *a: iter(())})


ANSWERS_KEPT = 4096  # errors() answers kept per KubeSchemas (a dev stack validates ~300 objects)


class UnknownKind(LookupError):
    """No built-in schema and no vendored CRD for this apiVersion/kind: the API server would
    answer "no matches for kind"."""


def _group_version_file(api_version: str) -> str:
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1; v1 -> v1
    group, _, version = api_version.rpartition("/")
    return f"{group.split('.')[0]}-{version}" if group else version


class KubeSchemas:
    """Validators for one Kubernetes minor version (e.g. "1.35"), built-ins and vendored CRDs."""

    def __init__(self, version: str, crd_dir: Path = CRD_DIR):
        self.version = version
        self.crd_dir = crd_dir
        self._dir = _SCHEMAS / f"v{version}.0-local-strict"
        if not self._dir.is_dir():
            raise ValueError(f"kubernetes-validate ships no schemas for Kubernetes {version}")
        self._validators: dict[tuple[str, str, bool], jsonschema.protocols.Validator] = {}
        self._answers: dict[tuple[bool, bytes], tuple[str, ...]] = {}  # errors() per object, see there

    @cached_property
    def _registry(self) -> Registry:
        definitions = json.loads((self._dir / "_definitions.json").read_text())
        return Resource.from_contents(definitions) @ Registry()

    @cached_property
    def _vendored(self) -> dict[tuple[str, str], tuple[dict, str]]:
        found: dict[tuple[str, str], tuple[dict, str]] = {}
        for path in sorted(self.crd_dir.glob("**/*.yaml")):
            for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if version.get("served", True):
                        key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                        found[key] = (version["schema"]["openAPIV3Schema"], spec.get("scope", "Namespaced"))
        return found

    @property
    def crds(self) -> dict[tuple[str, str], dict]:
        """(apiVersion, kind) -> openAPIV3Schema of every served version of the vendored CRDs."""
        return {key: schema for key, (schema, _) in self._vendored.items()}

    def crd_scope(self, api_version: str, kind: str) -> str | None:
        """"Namespaced" or "Cluster" for a vendored CRD kind; None for anything else."""
        entry = self._vendored.get((api_version, kind))
        return entry[1] if entry else None

    def knows(self, api_version: str, kind: str) -> bool:
        try:
            self._validator(api_version, kind, partial=False)
            return True
        except UnknownKind:
            return False

    def errors(self, obj: dict[str, Any], partial: bool = False) -> list[str]:
        """Every schema violation of ``obj``, as ``path: message`` lines (empty when valid)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not api_version or not kind:
            return ["apiVersion and kind are required"]
        # The same objects come back in run after run (four of five, over the test suite): the answer is kept per
        # object's JSON text (in the object's own key order, which messages listing fields follow), at ~1/15 of the
        # cost of validating it. An object that is not plain JSON (non-string keys, tuples: the text would be
        # another object's) is validated every time.
        try:
            text = json.dumps(obj)
        except (TypeError, ValueError):
            return self._errors(obj, api_version, kind, partial)
        if json.loads(text) != obj:
            return self._errors(obj, api_version, kind, partial)
        key = (partial, hashlib.sha256(text.encode()).digest())
        if key not in self._answers:
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers.pop(next(iter(self._answers)))  # the oldest
            self._answers[key] = tuple(self._errors(obj, api_version, kind, partial))
        return list(self._answers[key])

    def _errors(self, obj: dict[str, Any], api_version: str, kind: str, partial: bool) -> list[str]:
        validator = self._validator(api_version, kind, partial)
        found = []
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            found.append(f"{where}: {_short(error)}")
        return found

    def definition_errors(self, definition: str, value: Any) -> list[str]:
        """Schema violations of ``value`` against one OpenAPI definition (e.g. a chart value that a
        template renders verbatim into a ``io.k8s.api.apps.v1.DeploymentStrategy`` field)."""
        key = ("#definition", definition, False)
        if key not in self._validators:
            ref = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{definition}"}
            self._validators[key] = jsonschema.Draft202012Validator(ref, registry=self._registry)
        return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {_short(e)}"
                for e in self._validators[key].iter_errors(value)]

    def _validator(self, api_version: str, kind: str, partial: bool):
        key = (api_version, kind, partial)
        if key not in self._validators:
            cls = _PartialValidator if partial else jsonschema.Draft202012Validator
            builtin = self._dir / f"{kind.lower()}-{_group_version_file(api_version)}.json"
            if builtin.is_file() and self._builtin_matches(builtin, api_version, kind):
                schema = json.loads(builtin.read_text())
            elif (api_version, kind) in self._vendored:
                schema = _crd_schema(json.dumps(self._vendored[(api_version, kind)][0], sort_keys=True))
            else:
                raise UnknownKind(f"no matches for kind {kind!r} in version {api_version!r} "
                                  f"(Kubernetes {self.version} or the vendored CRDs in {self.crd_dir.name}/)")
            self._validators[key] = cls(schema, registry=self._registry)
        return self._validators[key]

    @staticmethod
    def _builtin_matches(path, api_version: str, kind: str) -> bool:
        # Group names are shortened in file names (networking.k8s.io -> networking); make sure a
        # CRD group with the same first label (crd.projectcalico.org vs a "crd" group) never
        # validates against the wrong schema.
        schema = json.loads(path.read_text())
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        group, _, version = api_version.rpartition("/")
        return any(g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind
                   for g in gvks) or not gvks


@lru_cache(maxsize=None)
def for_version(version: str) -> KubeSchemas:
    """The validators of one Kubernetes version, compiled once per process and shared by every run (building
    them again per run cost a dev run ~50 ms: the definitions file, the vendored CRDs, ~30 compiled kinds)."""
    return KubeSchemas(version)


@lru_cache(maxsize=None)
def _crd_schema(text: str) -> dict:
    """A CRD's structural schema made strict the way ``kubectl --validate=strict`` is: unknown
    fields are errors unless the schema preserves them; metadata is an ObjectMeta."""
    schema = _strict(json.loads(text))
    props = schema.setdefault("properties", {})
    props["metadata"] = {"$ref": "https://kubernetes.io/api/_definitions.json#/$defs/"
                                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (out.get("type") == "object" and "properties" in out
            and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field(s): {error.message.split('(')[-1].rstrip(')')}"
    return error.message if len(error.message) < 200 else error.message[:197] + "..."


def iter_objects(manifests: str) -> Iterator[dict]:
    """The objects of a multi-document YAML manifest."""
    for doc in yaml.safe_load_all(manifests):
        if doc:
            yield doc
