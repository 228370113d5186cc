"""How the engine uses Python's cyclic garbage collector.

A dev preview creates ~0.8 million long-lived objects while importing (the Pulumi SDK, pulumi_aws's and
pulumi_kubernetes's classes, moto) and about as many short-lived ones while running (Outputs, futures,
protobuf messages). Under CPython's default thresholds (700, 10, 10) that meant ~1,500 collections per
preview, ten of them over the whole heap, re-scanning every imported class and function each time:
1.2-1.5 s of a 3.5 s preview (bench/README.md, "Garbage collection").

- ``during_a_run()``: what ``OfflineEngine.run`` wraps the program in: the young generation is collected
  every 100,000 net allocations instead of 700 (each young collection then costs ~10 ms and frees the same
  cycles), older ones proportionally less often; the caller's thresholds come back afterwards.
- ``quiet_imports()`` / ``after_imports()``: for a process that imports, runs once and exits (the CLI, bench
  children): no collection while importing (imports create nothing collectable), then what the imports
  created is frozen out of every later scan (``gc.freeze``, documented for exactly this) and the one-shot
  thresholds (``ONE_SHOT_THRESHOLDS``) stay on for the rest of the process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young collections every 100k net allocations (peak memory +20-40 MiB on the dev stack); a full collection
# once per 100 middle ones, so a long process (the test suite) still frees old cycles.
RUN_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def during_a_run() -> Iterator[None]:
    old = gc.get_threshold()
    # Never lower what the process already chose (a caller may have raised them further).
    gc.set_threshold(*(max(o, r) if o else o for o, r in zip(old, RUN_THRESHOLDS)))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def quiet_imports() -> None:
    gc.disable()


# A one-shot process (the CLI, bench children) collects the young generation every 400k net allocations: the dev
# preview then makes 1 young collection instead of 4-5 (~40 ms of scanning what the SDK's lazily loaded classes
# just created); cyclic garbage waits a little longer (a few tens of MiB at most, measured at 998 nodes).
ONE_SHOT_THRESHOLDS = (400_000, 50, 100)


def after_imports() -> None:
    gc.freeze()
    gc.set_threshold(*ONE_SHOT_THRESHOLDS)
    gc.enable()
