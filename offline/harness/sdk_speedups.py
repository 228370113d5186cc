"""Where the Pulumi SDK (3.272) spends time an offline run does not need, and the cheaper equivalent the engine
installs. Each replacement returns what the SDK's own code returns (tests/test_engine_costs.py compares them);
only the cost changes. ``install()`` is idempotent; ``OfflineEngine.__enter__`` calls it.

- Every registration carries a stack trace (``pulumi.runtime.resource._get_stack_trace``): the SDK builds it with
  ``traceback.extract_stack()``, which also stats every frame's file and prepares its source line for
  display, and turns each frame's file name into a URI through pathlib, for every frame of every registration
  (about a tenth of a dev run, most of it spent on the same few dozen files). The trace holds only file URIs and
  line numbers: the replacement walks the same frames, keeps each file's URI, and builds the same message.
  Most registrations come from a few call sites under the same callers (a test's, a component's loop), so the
  message is kept per stack of (file, line) pairs too: the SDK only reads it and copies it into the request.
- Every dependency an input carries is first checked for a cycle (``resource_cycle_breaker._reachable``): the SDK
  walks the graph with one generator per resource, nested as deep as the path, so every resource it reaches is
  handed up through the whole chain; at 1,000 nodes that is 24 million generator steps, a fifth of the run. The
  replacement walks the same edges with a list and answers the same (whether one resource reaches the other).
"""

from __future__ import annotations

import pathlib
import sys
from functools import lru_cache

from pulumi.runtime import resource, resource_cycle_breaker
from pulumi.runtime.proto import source_pb2

_installed = False
SDK_GET_STACK_TRACE = resource._get_stack_trace  # the SDK's own, for comparison
SDK_REACHABLE = resource_cycle_breaker._reachable


@lru_cache(maxsize=4096)
def _uri(filename: str) -> str | None:
    try:
        return pathlib.Path(filename).as_uri()
    except BaseException:  # noqa: BLE001 -- what the SDK does: a file name with no URI gives no position
        return None


@lru_cache(maxsize=None)
def _frame(filename: str, lineno: int | None) -> source_pb2.StackFrame:
    uri = _uri(filename) if filename != "" and lineno is not None else None
    return source_pb2.StackFrame(pc=None if uri is None else source_pb2.SourcePosition(uri=uri, line=lineno))


@lru_cache(maxsize=2048)
def _trace(callers: tuple[tuple[str, int | None], ...]) -> source_pb2.StackTrace:
    """The message for these callers (outermost first); never changed after it is made."""
    return source_pb2.StackTrace(frames=[_frame(filename, lineno) for filename, lineno in reversed(callers)])


def get_stack_trace() -> source_pb2.StackTrace:
    """``resource._get_stack_trace``: the frames outside the SDK's resource constructors, innermost first."""
    stack = []
    frame = sys._getframe()
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    stack.reverse()  # outermost first, as traceback.extract_stack() lists them
    # The third __init__ from the top: the concrete resource's constructor (the SDK's reasoning, kept as it is).
    n = 0
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][2] == "__init__":
            n += 1
            if n == 3:
                break
    if i < 1:
        return source_pb2.StackTrace()
    return _trace(tuple((filename, lineno) for filename, lineno, _ in stack[:i]))


def reachable(from_resource, to_resource) -> bool:
    """``resource_cycle_breaker._reachable``: whether ``to_resource`` is ``from_resource`` or one of the resources it
    depends on, directly or not, through the dependencies declared so far."""
    deps = resource_cycle_breaker._deps
    visited = set()
    todo = [from_resource]
    while todo:
        r = todo.pop()
        if r in visited:
            continue
        visited.add(r)
        if r == to_resource:
            return True
        todo.extend(deps(r))
    return False


def install() -> None:
    global _installed
    if _installed:
        return
    resource._get_stack_trace = get_stack_trace  # the name register_resource and read_resource call
    resource_cycle_breaker._reachable = reachable  # the name declare_dependency calls
    _installed = True
