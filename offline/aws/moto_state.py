"""Which engine's AWS is in moto right now.

moto keeps one AWS per process: every service's backends hang off module-level ``BackendDict``s, keyed by
account and region. Each ``OfflineEngine`` owns an AWS of its own (what its runs created), and only one can
be in moto at a time. ``make_live(engine)`` puts the engine's AWS in and parks whatever was there, so the
other engine finds its AWS untouched when it is live again; ``forget(engine)`` drops the engine's AWS.

Parking detaches the account-level backends from their ``BackendDict`` (moto is then empty; the next access
creates fresh backends), which is also the cheap reset a new engine starts from: moto's own reset
re-initialises every backend (default VPC and subnets, IAM's managed policies) only to throw them away.
``copy_of(owner, *extra)`` deep-copies an engine's AWS (with objects that point into it, as the engine's
contexts do) for a fork: a dev stack's whole account copies in milliseconds, where a run takes 0.3 s.
An engine that runs twice (``run()`` then ``run()``, as an update after an up) keeps its AWS between runs:
starting from a fresh AWS is a choice made by creating a new engine, never a side effect of running.
"""

from __future__ import annotations

import copy
import weakref

from moto.core.base_backend import BackendDict

_Parked = list[tuple[BackendDict, str, object]]  # (service's BackendDict, account id, its AccountSpecificBackend)

_live: weakref.ref | None = None  # the engine whose AWS is in moto
_parked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its AWS while another one is live


def _detach() -> _Parked:
    taken: _Parked = []
    for service in list(BackendDict._instances):
        taken += [(service, account, backends) for account, backends in service.items()]
        dict.clear(service)
    BackendDict._instances.clear()
    return taken


def _attach(parked: _Parked) -> None:
    for service, account, backends in parked:
        dict.__setitem__(service, account, backends)
        if service not in BackendDict._instances:
            BackendDict._instances.append(service)


def live_owner():
    return _live() if _live is not None else None


def make_live(owner) -> None:
    """Put ``owner``'s AWS into moto (an empty AWS if it has none yet), parking the one there."""
    global _live
    current = live_owner()
    if current is owner:
        return
    taken = _detach()
    if current is not None:
        _parked[current] = taken  # else: nobody's (a closed engine's, or a plain mock_aws user's) and dropped
    _attach(_parked.pop(owner, []))
    _live = weakref.ref(owner)


def forget(owner) -> None:
    """``owner`` is done: its AWS is dropped; if it was live, moto is left empty."""
    global _live
    _parked.pop(owner, None)
    if live_owner() is owner:
        _detach()
        _live = None


def copy_of(owner, *extra, keep=()):
    """(``owner``'s AWS as ``adopt`` takes it, then a copy of each of ``extra``), all copied together, so that
    what ``extra`` holds of the AWS (an EC2 backend) is the copy's; objects in ``keep`` are shared, not copied.
    ``owner`` is made live first."""
    make_live(owner)
    live = [(service, account, backends) for service in BackendDict._instances for account, backends in service.items()]
    # The BackendDicts are moto's, not the account's.
    memo = {id(obj): obj for obj in [service for service, _, _ in live] + list(keep)}
    return copy.deepcopy((live, *extra), memo)


def adopt(owner, parked: _Parked) -> None:
    """``owner``'s AWS is now ``parked`` (from ``copy_of``): put in moto at once if ``owner`` is live."""
    if live_owner() is owner:
        _detach()
        _attach(parked)
    else:
        _parked[owner] = parked
