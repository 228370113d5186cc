"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) as the API server applies it, for the engine.

The API server compiles every CEL expression when the policy is created and refuses one that does not
compile; a request is checked against each policy a binding puts in force whose ``matchConstraints`` and
``matchConditions`` match it, ``variables`` evaluated in order, then every ``validations`` expression
(Kubernetes docs, "Validating Admission Policy"). CEL is evaluated by cel-python (standard CEL: the
Kubernetes extension libraries, e.g. ``quantity()`` or ``cidr()``, are not modelled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def _env():
    """cel-python's environment, made on first use (most stacks have no admission policy): importing cel-python
    and building its Lark parser from the grammar costs ~0.15 s a process. The parser is the one cel-python
    0.5.0's ``CELParser`` builds (the same grammar and options), with Lark's own cache of the analysed grammar
    (``cache=True``: a file in the temp directory, keyed by grammar, options and Lark version)."""
    import celpy
    import lark
    from celpy.celparser import CELParser

    if CELParser.CEL_PARSER is None:
        tree_class = celpy.InterpretedRunner.tree_node_class
        CELParser.CEL_PARSER = lark.Lark(
            (Path(celpy.__file__).parent / "cel.lark").read_text(), parser="lalr", start="expr", debug=True,
            g_regex_flags=re.M, lexer_callbacks={"IDENT": CELParser.ambiguous_literals}, propagate_positions=True,
            maybe_placeholders=False, priority="invert", tree_class=tree_class, cache=True)
    return celpy.Environment()


def _expressions(policy: dict) -> list[tuple[str, str]]:
    """(field path, expression) of every CEL expression in a policy."""
    spec = policy.get("spec") or {}
    out = []
    for field in ("matchConditions", "variables", "validations", "auditAnnotations"):
        for i, item in enumerate(spec.get(field) or []):
            key = "valueExpression" if field == "auditAnnotations" else "expression"
            out.append((f"spec.{field}[{i}].{key}", item.get(key, "")))
            if field == "validations" and item.get("messageExpression"):
                out.append((f"spec.{field}[{i}].messageExpression", item["messageExpression"]))
    return out


def compile_errors(policy: dict) -> list[str]:
    """What the API server answers for expressions that do not compile (empty when all compile)."""
    expressions = _expressions(policy)
    if not expressions:
        return []
    from celpy.celparser import CELParseError

    problems = []
    for path, expression in expressions:
        try:
            _program(expression)
        except CELParseError as exc:
            problems.append(f'{path}: Invalid value: "{expression[:60]}...": compilation failed: {str(exc).splitlines()[0]}')
    return problems


@lru_cache(maxsize=1024)
def _program(expression: str):
    """The expression compiled once per process: the API server compiles a policy's expressions when it is created
    and evaluates them per request; here the same few policies are created again by every engine run, and
    compiling (Lark's parse) cost ~60% of a flannel stack's admission checks. cel-python 0.5.0's runner makes a new
    Evaluator per ``evaluate`` and leaves the tree as it was, so one runner serves every request."""
    env = _env()
    return env.program(env.compile(expression))


def _run(expression: str, activation: dict[str, Any]) -> Any:
    from celpy.evaluation import CELEvalError

    value = _program(expression).evaluate(activation)
    if isinstance(value, CELEvalError):
        raise value
    return value


def _true(value: Any) -> bool:
    from celpy import celtypes

    return isinstance(value, celtypes.BoolType) and bool(value)


def _rule_matches(rule: dict, group: str, version: str, resource: str, operation: str) -> bool:
    def has(values, value):
        return "*" in (values or []) or value in (values or [])
    return (has(rule.get("apiGroups"), group) and has(rule.get("apiVersions"), version)
            and has(rule.get("resources"), resource) and has(rule.get("operations"), operation))


@dataclass(frozen=True)
class Request:
    """One admission request: who, what, the object before and after."""

    username: str
    operation: str  # CREATE | UPDATE | DELETE
    group: str
    version: str
    resource: str  # plural, e.g. "nodes"
    old: dict | None
    new: dict | None


def denials(policy: dict, binding_actions: list[str], request: Request) -> list[str] | None:
    """The messages ``policy`` denies ``request`` with (empty: allowed), or None when it does not apply.

    An expression that fails to evaluate follows ``failurePolicy`` (default Fail: denied)."""
    spec = policy.get("spec") or {}
    rules = (spec.get("matchConstraints") or {}).get("resourceRules") or []
    if not any(_rule_matches(r, request.group, request.version, request.resource, request.operation) for r in rules):
        return None
    fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
    _env()  # cel-python loaded
    import celpy
    from celpy import celtypes

    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(request.new), "oldObject": celpy.json_to_cel(request.old),
        "request": celpy.json_to_cel({"operation": request.operation, "userInfo": {"username": request.username},
                                      "resource": {"group": request.group, "version": request.version,
                                                   "resource": request.resource}}),
    }
    try:
        for condition in spec.get("matchConditions") or []:
            if not _true(_run(condition["expression"], activation)):
                return None
        variables = celtypes.MapType({})
        activation["variables"] = variables
        for var in spec.get("variables") or []:  # in order: a variable may use the ones before it
            variables[celtypes.StringType(var["name"])] = _run(var["expression"], activation)
        out = []
        for rule in spec.get("validations") or []:
            if not _true(_run(rule["expression"], activation)):
                out.append(rule.get("message") or f"failed expression: {rule['expression']}")
    except Exception as exc:  # noqa: BLE001 -- a CEL runtime error: the failure policy decides
        return [f"expression error ({exc})"] if fail_closed else []
    return out if "Deny" in binding_actions else []


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what ``kubectl patch --type=merge`` sends)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
