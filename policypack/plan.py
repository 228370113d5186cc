"""The stack as the rules read it: resources with plain props, parents and property dependencies.

pulumi-policy hands a stack policy ``PolicyResource`` objects whose props are unknown-checking proxies: reading
a value that is unknown during preview raises ``UnknownValueError``, and the analyzer then skips the whole policy
with one "can't run policy" line. Here every value is read field by field instead: unknown ones become
``UNKNOWN``, so a rule checks everything preview knows and names what it could not check (``Plan.notes``,
reported once per policy by the registry).

Props are the resource's state: during a preview of a new resource, its inputs plus unknown computed outputs.
Numbers arrive as floats (protobuf); whole ones are made ints, as the Kubernetes and AWS APIs read them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from offline.kube.addons import addon_objects
from offline.kube.api_server import is_api_object

CLUSTER, ADDON = "aws:eks/cluster:Cluster", "aws:eks/addon:Addon"


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown during preview>"

    def __copy__(self) -> _Unknown:  # a sentinel, compared by identity: copies are itself
        return self

    def __deepcopy__(self, memo) -> _Unknown:
        return self

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Unknown(Exception):
    """Raised by ``known``: a value the rule needs is not known yet; the message says which."""


def plain(value: Any) -> Any:
    """Plain dicts and lists from (possibly proxied) props; unknown values become UNKNOWN, one field at a time."""
    if isinstance(value, Mapping):
        out = {}
        for key in value:  # iterating keys never touches a value
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        out_list = []
        for i in range(len(value)):
            try:
                out_list.append(plain(value[i]))
            except UnknownValueError:
                out_list.append(UNKNOWN)
        return out_list
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def mapping(value: Any) -> dict:
    """``value`` if it is a dict (not unknown, not absent), else {}."""
    return value if isinstance(value, dict) else {}


def known_object(value: Any, what: str) -> Any:
    """``value`` unless it is unknown as a whole (its fields may still be): for reading the known fields of an
    object whose other fields a preview does not know yet."""
    if value is UNKNOWN:
        raise Unknown(what)
    return value


def known(value: Any, what: str) -> Any:
    """``value`` if nothing in it is unknown; else Unknown(what)."""
    if has_unknown(value):
        raise Unknown(what)
    return value


def options_of(opts, provider) -> dict[str, Any]:
    """pulumi_policy's PolicyResourceOptions and PolicyProviderResource as the engine records options."""
    out: dict[str, Any] = {"provider": f"{provider.urn}::" if provider is not None else ""}
    if opts is not None:
        out.update(protect=bool(opts.protect), deleteBeforeReplace=bool(opts.delete_before_replace),
                   ignoreChanges=list(opts.ignore_changes or []))
    return out


_ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


@dataclass(eq=False)
class Resource:
    urn: str
    type: str
    name: str
    props: dict[str, Any]
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # The resource options the offline checks read, as the engine records them (offline/harness/monitor.py):
    # ``provider`` is a provider reference "<urn>::<id>" (the id is not known to a policy: left empty).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        """The props under the name the offline checks read records by (``record.inputs``)."""
        return self.props

    def tags(self) -> dict[str, Any]:
        return mapping(self.props.get("tags"))


_read_once: list = [None]  # (the last resources list, its resources with their props read): Plan.from_policy_resources


class Plan:
    """Every resource of the stack, by URN, with lookups the rules share."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self.notes: list[str] = []  # what could not be checked because it is unknown during preview

    @classmethod
    def from_policy_resources(cls, resources) -> Plan:
        """From StackValidationArgs.resources (pulumi_policy.PolicyResource). Reading the proxied props is most of a
        stack policy's cost: when every policy is handed the same list (offline/policy.py does; the CLI's analyzer
        builds one per policy), it is read once. Each plan gets its own Resources (and notes); the rules only
        read props."""
        cached = _read_once[0]
        if cached is None or cached[0] is not resources:  # the list itself is held: its id cannot be reused
            cached = _read_once[0] = (resources, [(r, plain(r.props)) for r in resources])
        return cls(Resource(urn=r.urn, type=r.resource_type, name=r.name, props=props,
                            parent=r.parent.urn if r.parent is not None else None,
                            dependencies=[d.urn for d in r.dependencies],
                            property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
                            options=options_of(r.opts, r.provider))
                   for r, props in cached[1])

    def region(self, configured: str) -> str:
        """The stack's region: the one its subnets' zones are in (standard zones are the region's name and a
        letter), else ``configured`` (rules.aws.configured_region: the setting, the stack's aws:region, ...)."""
        from offline.aws.partitions import region_problem

        zones = {z for s in self.of_type("aws:ec2/subnet:Subnet")
                 if isinstance(z := s.props.get("availabilityZone"), str)}
        regions = {z[:-1] for z in zones if z[-1:].isalpha() and region_problem(z[:-1]) is None}
        return regions.pop() if len(regions) == 1 else configured

    def account(self) -> str:
        """The AWS account the stack deploys to: the one its resources' ARNs name (known once they exist; a
        first preview knows none)."""
        found = Counter(m[1] for r in self.resources if r.type.startswith("aws:")
                        and isinstance(r.props.get("arn"), str) and (m := _ACCOUNT_ARN.match(r.props["arn"])))
        if not found:
            raise Unknown("the stack's AWS account (in its resources' ARNs)")
        return found.most_common(1)[0][0]

    @property
    def records(self) -> list[Resource]:
        """The resources, for offline checks that take the run's records (type, name, urn, inputs, dependencies)."""
        return self.resources

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def deps(self, resource: Resource, key: str, type_token: str | None = None) -> list[Resource]:
        """The resources input ``key`` of ``resource`` was computed from (optionally of one type)."""
        found = [self.by_urn[u] for u in resource.property_dependencies.get(key, []) if u in self.by_urn]
        return [r for r in found if type_token is None or r.type == type_token]

    def kube_objects(self) -> list[dict]:
        """The Kubernetes API objects the stack creates (patches and Helm releases left out), and those its EKS
        add-ons install that its objects refer to (CoreDNS's pods and kube-dns Service)."""
        return self.registered_objects() + self.addon_objects()

    def registered_objects(self) -> list[dict]:
        """The Kubernetes API objects the stack itself registers (what offline/checks/scan.kubernetes_objects
        gives the engine's security checks)."""
        return [r.props for r in self.resources if is_api_object(r.type) and not r.type.endswith("Patch")]

    def known_objects(self, objects: Iterable[dict], what: str = "") -> list[dict]:
        """The objects whose every value is known; each other one is noted, not checked."""
        out = []
        for obj in objects:
            if has_unknown(obj):
                name = mapping(obj.get("metadata")).get("name")
                if not isinstance(name, str):  # its metadata is unknown: the resource's name says which
                    name = next((r.name for r in self.resources if r.props is obj), "?")
                self.note(f"{obj.get('kind')} {name}: {what or 'not checked'} (a value is unknown)")
            else:
                out.append(obj)
        return out

    def addon_objects(self) -> list[dict]:
        clusters = self.of_type(CLUSTER)
        cidr = mapping(clusters[0].props.get("kubernetesNetworkConfig")).get("serviceIpv4Cidr") if clusters else None
        if len(clusters) != 1 or not isinstance(cidr, str):
            return []
        return [o for addon in self.of_type(ADDON) for o in addon_objects(addon.props, cidr)]

    def kube_object_map(self) -> dict[tuple[str, str, str, str], dict]:
        """The objects keyed like the API server keys them: (apiVersion, kind, namespace, name)."""
        return {(o.get("apiVersion"), o.get("kind"), mapping(o.get("metadata")).get("namespace") or "",
                 mapping(o.get("metadata")).get("name") or ""): o for o in self.kube_objects()}

    def note(self, what: str) -> None:
        if what not in self.notes:
            self.notes.append(what)

    @contextmanager
    def checking(self, what: str) -> Iterator[None]:
        """Skip the rest of the block when a value it needs is unknown, and note what was not checked."""
        try:
            yield
        except Unknown as exc:
            self.note(f"{what} ({exc})" if str(exc) else what)
