"""Args are TypedDicts (what Pulumi's component analyzer reads), and a TypedDict accepts any key at run time:
``checked`` refuses a missing or unknown one, so a misspelt argument is an error, not a silent default.

It also turns whole floats into ints for int fields: args arriving through the component provider
(``pulumi package add`` consumers) carry every number as a float (pulumi 3.272
provider/experimental/component.py ``map_input_properties`` computes ``int(value)`` and then stores the
raw value), and a Kubernetes or AWS field must not receive ``30080.0``.
"""

import difflib
import typing
from typing import Any, TypeVar, cast

A = TypeVar("A")

# Options, not args: every Pulumi component takes them in ResourceOptions.
_OPTIONS = {"provider", "providers", "depends_on", "parent", "protect"}


def checked(args: A, spec: Any) -> A:
    """A copy of ``args``, after checking its keys against the TypedDict ``spec`` (TypeError naming the key)."""
    known = set(spec.__annotations__)
    problems = []
    for key in sorted(set(args) - known):
        if key in _OPTIONS:
            problems.append(f"{key!r} is a resource option: pass it as pulumi.ResourceOptions({key}=...)")
        else:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            problems.append(f"unknown argument {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
    problems += [f"missing required argument {key!r}" for key in sorted(spec.__required_keys__ - set(args))]
    if problems:
        raise TypeError(f"{spec.__name__}: " + "; ".join(problems))
    ints = {k for k, t in spec.__annotations__.items() if _plain(t) is int}
    return cast(A, {k: int(v) if k in ints and isinstance(v, float) and v.is_integer() else v
                    for k, v in args.items()})  # type: ignore[attr-defined]


def _plain(annotation: Any) -> Any:
    """``int`` for ``int`` and ``NotRequired[int]``; other annotations as they are."""
    if typing.get_origin(annotation) in (typing.NotRequired, typing.Required):
        return typing.get_args(annotation)[0]
    return annotation
