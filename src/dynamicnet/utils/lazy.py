"""Lazy package attributes (PEP 562), so importing a package's namespace costs only what is used.

A package lists ``name → module`` and gets a ``__getattr__`` that imports the module on first access. This keeps
``import dynamicnet`` free of torch (fast ``--help``, clean Ctrl-C) and lets ``import
dynamicnet.apps.style.pipeline`` load the pipeline without the recipe and training code beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` resolving ``names`` (relative module paths allowed)."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    return __getattr__
