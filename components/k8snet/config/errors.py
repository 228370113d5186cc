"""The one error type a bad stack configuration produces."""

from __future__ import annotations

import pulumi


class ConfigError(pulumi.RunError):
    """Invalid stack configuration, raised before any resource is registered.

    Subclasses ``pulumi.RunError`` so ``pulumi up`` prints the message without a
    Python traceback. ``problems`` holds one line per bad input, each naming the
    config key and the fix; ``str(err)`` joins them.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("invalid stack configuration:" + "".join(f"\n  - {p}" for p in self.problems))
