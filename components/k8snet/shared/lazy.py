"""Package exports imported on first use (PEP 562), so importing a pure module (``k8snet.network.addressing``)
does not load the Pulumi resource classes of every component (~1 s). Type checkers read the same names
from each package's ``if TYPE_CHECKING:`` imports."""

import importlib
from collections.abc import Callable, Mapping


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """``(__getattr__, __all__)`` for ``package``: name -> the submodule (relative) that defines it."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{names[name]}"), name)

    return __getattr__, sorted(names)
