"""Rules as pulumi-policy policies. A rule is one decorated function in ``rules/``:

    @stack_rule("pod-routes", "Every node's pod block is routed to it in every pod-route table",
                level=MANDATORY, why="packets to a block nobody routes are dropped")
    def pod_routes(plan, config):
        yield "node2: pod block 10.1.2.0/24 is not routed to it in k8snet-dev-private-us-east-1b"

A stack rule reads the whole ``Plan`` (cross-resource invariants); a resource rule reads one ``Resource`` of the
listed types and runs before that resource is created, also on ``pulumi up``. Each yields violation messages
(str, or ``Violation`` to attach a URN). The enforcement level is chosen per rule, and ``why`` says why (it is
the policy's remediation text and shows in the README table).

Values unknown during preview: the rule checks what is known and notes the rest (``Plan.checking``); the
notes are reported once per policy as an advisory "can't run policy … during preview: <what>" line, the
analyzer's own channel for unknowns, so they never fail a preview and never pass silently.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from .plan import Plan, Resource, Unknown, options_of, plain

PACK_NAME = "k8snet"
MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: EnforcementLevel
    why: str
    check: Callable[..., Iterable[Any]]
    types: tuple[str, ...] = ()  # resource rules: the type tokens (or "prefix*") they read; empty for stack rules
    config: dict[str, dict] = field(default_factory=dict)  # JSON-schema properties with defaults

    @property
    def kind(self) -> str:
        return "resource" if self.types else "stack"

    def applies_to(self, type_token: str) -> bool:
        return any(type_token == t or (t.endswith("*") and type_token.startswith(t[:-1])) for t in self.types)


RULES: dict[str, Rule] = {}


def _register(rule: Rule) -> None:
    if rule.name in RULES and RULES[rule.name].check is not rule.check:
        raise ValueError(f"two rules are named {rule.name!r}")
    RULES[rule.name] = rule


def stack_rule(name: str, description: str, *, level: EnforcementLevel, why: str, config: dict | None = None):
    def register(fn: Callable[[Plan, dict], Iterable[Any]]):
        _register(Rule(name, description, level, why, fn, (), config or {}))
        return fn
    return register


def resource_rule(name: str, description: str, *, types: Iterable[str], level: EnforcementLevel, why: str,
                  config: dict | None = None):
    def register(fn: Callable[[Resource, dict], Iterable[Any]]):
        _register(Rule(name, description, level, why, fn, tuple(types), config or {}))
        return fn
    return register


def load_rules() -> dict[str, Rule]:
    """Every rule of every module in ``rules/`` (importing a module registers its rules)."""
    from . import rules

    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        importlib.import_module(f"{rules.__name__}.{info.name}")
    return dict(sorted(RULES.items()))


def _config(rule: Rule, args) -> dict:
    given = args.get_config() or {}
    return {**{k: v["default"] for k, v in rule.config.items() if "default" in v}, **given}


def _report(findings: Iterable[Any], report_violation) -> None:
    for finding in findings:
        v = finding if isinstance(finding, Violation) else Violation(str(finding))
        report_violation(v.message, v.urn)


def _unknowns(notes: list[str]) -> UnknownValueError:
    """The analyzer's own signal for "not known during preview" (one advisory line), with our message."""
    err = UnknownValueError(UNKNOWN_STRING_VALUE, [])
    shown = notes[:5] + ([f"and {len(notes) - 5} more"] if len(notes) > 5 else [])
    err.message = "checked everything known; not known until the update: " + "; ".join(shown)
    return err


def _validate_stack(rule: Rule):
    def validate(args, report_violation) -> None:
        plan = Plan.from_policy_resources(args.resources)
        with plan.checking(rule.name):
            _report(rule.check(plan, _config(rule, args)), report_violation)
        if plan.notes:
            raise _unknowns(plan.notes)
    return validate


def _validate_resource(rule: Rule):
    def validate(args, report_violation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        resource = Resource(urn=args.urn, type=args.resource_type, name=args.name, props=plain(args.props),
                            options=options_of(args.opts, args.provider))
        notes: list[str] = []
        try:
            _report(rule.check(resource, _config(rule, args)), report_violation)
        except Unknown as exc:
            notes.append(f"{args.name}: {exc}")
        if notes:
            raise _unknowns(notes)
    return validate


def policies() -> list:
    """The pack's policies, one per rule."""
    out = []
    for rule in load_rules().values():
        schema = PolicyConfigSchema(properties=rule.config) if rule.config else None
        common = dict(name=rule.name, description=rule.description, enforcement_level=rule.level,
                      config_schema=schema, remediation_steps=rule.why)
        if rule.kind == "stack":
            out.append(StackValidationPolicy(validate=_validate_stack(rule), **common))
        else:
            out.append(ResourceValidationPolicy(validate=_validate_resource(rule), **common))
    return out
